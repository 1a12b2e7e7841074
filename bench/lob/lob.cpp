// Comparison book for bench/bench_matching.py (not the product): a conventional C++
// price-time limit order book of the kind found in open-source LOB repositories, driven
// from Python through ctypes one call per message.
//
// Layout: per side a std::map price -> level (best first), each level an intrusive FIFO
// of orders (O(1) unlink on cancel), an unordered_map id -> order, orders from a pool.
// A place matches against the opposite side up to its limit (market orders: no limit),
// records every fill (maker id, price, size) in a buffer the caller may read, and rests
// a limit order's remainder. No validation, no events as objects, no self-trade rules.
#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>
#include <vector>

namespace {

struct Order {
    int64_t id, price, size;
    Order *prev, *next;
    struct Level *level;
    bool is_buy;
};

struct Level {
    int64_t price = 0, size = 0;
    Order *head = nullptr, *tail = nullptr;
};

struct Fill {
    int64_t maker_id, price, size;
};

struct Book {
    std::map<int64_t, Level, std::greater<int64_t>> bids;  // best (highest) first
    std::map<int64_t, Level> asks;                          // best (lowest) first
    std::unordered_map<int64_t, Order *> orders;
    std::vector<Order *> pool;
    std::vector<Fill> fills;

    Book() { orders.reserve(1 << 16); fills.reserve(256); }
    ~Book() {
        for (auto &kv : orders) delete kv.second;
        for (Order *o : pool) delete o;
    }
    Order *alloc() {
        if (pool.empty()) return new Order;
        Order *o = pool.back();
        pool.pop_back();
        return o;
    }
    static void unlink(Level &l, Order *o) {
        if (o->prev) o->prev->next = o->next; else l.head = o->next;
        if (o->next) o->next->prev = o->prev; else l.tail = o->prev;
        l.size -= o->size;
    }
    template <class Side, class Crosses>
    int64_t take(Side &side, int64_t size, Crosses crosses) {
        while (size > 0 && !side.empty()) {
            auto it = side.begin();
            if (!crosses(it->first)) break;
            Level &l = it->second;
            while (size > 0 && l.head) {
                Order *m = l.head;
                int64_t q = m->size < size ? m->size : size;
                fills.push_back({m->id, l.price, q});
                size -= q;
                if (q == m->size) {
                    unlink(l, m);
                    orders.erase(m->id);
                    pool.push_back(m);
                } else {
                    m->size -= q;
                    l.size -= q;
                }
            }
            if (!l.head) side.erase(it);
        }
        return size;
    }
    template <class Side>
    void rest(Side &side, int64_t id, bool is_buy, int64_t price, int64_t size) {
        Level &l = side[price];
        l.price = price;
        Order *o = alloc();
        *o = Order{id, price, size, l.tail, nullptr, &l, is_buy};
        if (l.tail) l.tail->next = o; else l.head = o;
        l.tail = o;
        l.size += size;
        orders.emplace(id, o);
    }
    int place(int64_t id, bool is_buy, int64_t price, int64_t size, bool market) {
        fills.clear();
        if (is_buy) {
            size = take(asks, size, [&](int64_t p) { return market || p <= price; });
            if (size > 0 && !market) rest(bids, id, true, price, size);
        } else {
            size = take(bids, size, [&](int64_t p) { return market || p >= price; });
            if (size > 0 && !market) rest(asks, id, false, price, size);
        }
        return (int)fills.size();
    }
    int cancel(int64_t id) {
        auto it = orders.find(id);
        if (it == orders.end()) return 0;
        Order *o = it->second;
        Level &l = *o->level;
        unlink(l, o);
        if (!l.head) {
            if (o->is_buy) bids.erase(o->price); else asks.erase(o->price);
        }
        orders.erase(it);
        pool.push_back(o);
        return 1;
    }
};

}  // namespace

extern "C" {
void *lob_new() { return new Book; }
void lob_free(void *b) { delete static_cast<Book *>(b); }
int lob_place(void *b, int64_t id, int is_buy, int64_t price, int64_t size, int market) {
    return static_cast<Book *>(b)->place(id, is_buy != 0, price, size, market != 0);
}
int lob_cancel(void *b, int64_t id) { return static_cast<Book *>(b)->cancel(id); }
// 32-bit forms for ctypes calls without argtypes: price in ticks, size in lots,
// flags bit 0 = buy, bit 1 = market.
int lob_place32(void *b, int id, int flags, int price_ticks, int lots) {
    return static_cast<Book *>(b)->place(id, flags & 1, price_ticks, lots, (flags & 2) != 0);
}
int lob_cancel32(void *b, int id) { return static_cast<Book *>(b)->cancel(id); }
int64_t lob_resting(void *b) { return (int64_t) static_cast<Book *>(b)->orders.size(); }
const Fill *lob_fills(void *b) { return static_cast<Book *>(b)->fills.data(); }
}
