// Function constants: looked up in the dispatch's list by index and decoded by type; those with
// a small index are cached per OS thread for the length of one run (State::const_gen).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "thread_state.h"

namespace metal_host::rt {

using namespace impl;

namespace {

bool lookup_constant(const mtlh_dispatch* d, uint32_t index, ConstEntry& out) {
  for (uint32_t k = 0; k < d->num_constants; ++k) {
    const mtlh_constant& c = d->constants[k];
    if (c.index != index) continue;
    const uint64_t b = c.bits;
    switch (c.type) {
      case 0:  // Bool
        out.i = (b & 0xFF) != 0;
        out.f = double(out.i);
        break;
      case 1:  // Int
        out.i = int32_t(uint32_t(b));
        out.f = double(out.i);
        break;
      case 2:  // UInt
        out.i = int64_t(uint32_t(b));
        out.f = double(out.i);
        break;
      case 3:  // Short
        out.i = int16_t(uint16_t(b));
        out.f = double(out.i);
        break;
      case 4:  // UShort
        out.i = int64_t(uint16_t(b));
        out.f = double(out.i);
        break;
      case 5: {  // Float
        float v;
        const uint32_t u = uint32_t(b);
        std::memcpy(&v, &u, 4);
        out.f = v;
        out.i = int64_t(v);
        break;
      }
      case 6: {  // Half
        const uint32_t h = uint32_t(b & 0xFFFF);
        const uint32_t sign = (h >> 15) & 1, e = (h >> 10) & 0x1F, m = h & 0x3FF;
        double v;
        if (e == 0)
          v = std::ldexp(double(m), -24);
        else if (e == 31)
          v = m ? std::numeric_limits<double>::quiet_NaN()
                : std::numeric_limits<double>::infinity();
        else
          v = std::ldexp(double(m | 0x400), int(e) - 25);
        out.f = sign ? -v : v;
        out.i = int64_t(out.f);
        break;
      }
      default:
        out.i = int64_t(b);
        out.f = double(out.i);
    }
    out.defined = true;
    return true;
  }
  out.i = 0;
  out.f = 0;
  out.defined = false;
  return false;
}

const ConstEntry& constant(uint32_t index, ConstEntry& tmp) {
  State& s = state();
  const mtlh_dispatch* d = s.d;
  if (d == nullptr) fault("function constant used outside a dispatch");
  if (index < kConstTable) {
    ConstEntry& e = s.consts[index];
    if (e.gen != s.const_gen) {
      lookup_constant(d, index, e);
      e.gen = s.const_gen;
    }
    return e;
  }
  lookup_constant(d, index, tmp);
  return tmp;
}

}  // namespace

int64_t function_constant_int(uint32_t index) {
  ConstEntry tmp;
  return constant(index, tmp).i;
}
double function_constant_float(uint32_t index) {
  ConstEntry tmp;
  return constant(index, tmp).f;
}
bool function_constant_defined(uint32_t index) {
  ConstEntry tmp;
  return constant(index, tmp).defined;
}

}  // namespace metal_host::rt
