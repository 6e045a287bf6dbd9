// Per-OS-thread state and what kernel code asks of it: the running thread and dispatch,
// threadgroup memory (a bump arena reset at every threadgroup), plain-mode scopes, and
// rt::fault, which names the running thread in its message.
#include "thread_state.h"

#include <algorithm>
#include <cstring>

#include "message.h"

namespace metal_host::rt {
namespace impl {

__thread State* t_state = nullptr;

State& new_state() {
  static thread_local std::unique_ptr<State> owner;
  owner.reset(new State());
  return *(t_state = owner.get());
}

void Arena::reset() {
  if (chunks.size() > 1) {  // consolidate so the next threadgroup fits into one chunk
    size_t want = 1;
    while (want < total + 4096) want <<= 1;
    chunks.clear();
    sizes.clear();
    add_chunk(want);
  }
  used = 0;
  total = 0;
}

void Arena::add_chunk(size_t bytes) {
  chunks.emplace_back(new unsigned char[bytes]);
  sizes.push_back(bytes);
  used = 0;
}

void* Arena::alloc(size_t size, size_t align) {
  if (align < 16) align = 16;
  total += size + align;
  if (chunks.empty()) add_chunk(std::max<size_t>(64 * 1024, size + align));
  uintptr_t base = reinterpret_cast<uintptr_t>(chunks.back().get());
  uintptr_t p = (base + used + align - 1) & ~(uintptr_t(align) - 1);
  if (p + size > base + sizes.back()) {
    add_chunk(std::max<size_t>(sizes.back() * 2, size + align));
    base = reinterpret_cast<uintptr_t>(chunks.back().get());
    p = (base + align - 1) & ~(uintptr_t(align) - 1);
  }
  used = p + size - base;
  std::memset(reinterpret_cast<void*>(p), 0xCD, size);
  return reinterpret_cast<void*>(p);
}

void new_threadgroup(State& s, ThreadgroupState& group, uint32_t threads) {
  Disarm disarmed(s);
  s.threads = threads;
  ++s.epoch;
  s.arena.reset();
  const mtlh_dispatch* d = s.d;
  const uint32_t n = std::min<uint32_t>(d->num_threadgroup, kMaxBufferBindings);
  for (uint32_t i = 0; i < n; ++i) {
    const uint64_t len = d->threadgroup_lengths ? d->threadgroup_lengths[i] : 0;
    group.threadgroup_buffers[i] = len ? s.arena.alloc(size_t(len), 16) : nullptr;
  }
}

}  // namespace impl

using namespace impl;

uint32_t current_lane() {
  const ThreadIds* ids = state().ids;
  return ids ? ids->thread_index_in_simdgroup : 0;
}

const ThreadIds* current_thread() {
  return state().ids;
}
const mtlh_dispatch* current_dispatch() {
  return state().d;
}
const char* current_kernel() {
  return state().kernel;
}

void fault(const char* message) {
  State& s = state();
  disarm(s);
  KernelFault k;
  Msg m(k.message, sizeof k.message);
  if (s.kernel) m.add("kernel %s: ", s.kernel);
  if (s.ids) {
    char tg[48], th[48];
    format_pos(tg, sizeof tg, s.ids->threadgroup_position_in_grid);
    format_pos(th, sizeof th, s.ids->thread_position_in_threadgroup);
    m.add("threadgroup %s thread %s: ", tg, th);
  }
  m.add("%s", message);
  throw k;
}

void* threadgroup_variable(uint32_t id, size_t size, size_t align, bool* fresh) {
  State& s = state();
  if (__builtin_expect(s.mode == kNone, 0)) fault("threadgroup variable used outside a kernel");
  if (id >= s.vars.size()) {
    Disarm disarmed(s);
    s.vars.resize(size_t(id) + 1);
  }
  TgVar& v = s.vars[id];
  // A declaration in a template has one id for all its instantiations: a larger instantiation
  // (threadgroup T buf[N] with a bigger T or N) gets its own, larger storage.
  const bool allocate = v.epoch != s.epoch || __builtin_expect(v.size < size, 0);
  if (allocate) {
    Disarm disarmed(s);
    v.ptr = s.arena.alloc(size, align);
    v.size = size;
    v.epoch = s.epoch;
  }
  if (fresh) *fresh = allocate;
  return v.ptr;
}

PlainScope::PlainScope(const mtlh_dispatch* d, const char* kernel, const ThreadIds* ids) {
  State& s = state();
  saved[0] = const_cast<mtlh_dispatch*>(s.d);
  saved[1] = const_cast<char*>(s.kernel);
  s.mode = kPlain;
  s.d = d;
  s.kernel = kernel;
  s.ids = ids;
  ++s.const_gen;
}

PlainScope::~PlainScope() {
  State& s = *t_state;
  s.mode = kNone;
  s.d = static_cast<const mtlh_dispatch*>(saved[0]);
  s.kernel = static_cast<const char*>(saved[1]);
  s.ids = nullptr;
  ++s.const_gen;
}

void plain_begin_threadgroup(ThreadgroupState& group, uint32_t threads, uint32_t linear) {
  State& s = *t_state;
  s.tg_linear = linear;
  new_threadgroup(s, group, threads);
}

}  // namespace metal_host::rt
