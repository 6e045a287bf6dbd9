// User-space context switch for fibers (x86-64 SysV and aarch64 AAPCS64; Linux and macOS).
//
// mtlh_fiber_switch(void** save_sp, void* new_sp) pushes the callee-saved state of the caller
// onto its own stack, stores the stack pointer into *save_sp, loads new_sp and pops the
// state saved there, then returns into the resumed context. A fresh context (fiber_init) is
// a fake saved frame whose return address is mtlh_fiber_entry, which calls fn(arg).
//
// mtlh_fiber_switch_fast uses the same frame but does not save/restore the FP control words
// (x86-64): it switches between fibers of one kernel, which cannot change the FP environment;
// the full switch is used between the scheduler (the OS thread's own context) and fibers.
//
// x86-64 frame (from the saved sp upward): [mxcsr:u32, x87 cw:u16, pad] r15 r14 r13 r12 rbx rbp
// ret. aarch64 frame: x19..x28, x29, x30 (return address), d8..d15 (160 bytes).
#include <cstdint>
#include <cstring>

#include "metal/runtime/exec.h"

#if defined(__APPLE__)
#define MTLH_SYM(name) "_" #name
#define MTLH_FUNC_BEGIN(name)                                                                    \
  ".text\n.p2align 4\n.globl " MTLH_SYM(name) "\n.private_extern " MTLH_SYM(name) "\n" MTLH_SYM( \
      name) ":\n"
#define MTLH_FUNC_END(name) ""
#else
#define MTLH_SYM(name) #name
#define MTLH_FUNC_BEGIN(name)                                                                  \
  ".text\n.p2align 4\n.globl " MTLH_SYM(name) "\n.hidden " MTLH_SYM(name) "\n.type " MTLH_SYM( \
      name) ", @function\n" MTLH_SYM(name) ":\n"
#define MTLH_FUNC_END(name) ".size " MTLH_SYM(name) ", .-" MTLH_SYM(name) "\n"
#endif

extern "C" void mtlh_fiber_entry();

#if defined(__x86_64__)

// clang-format off
// Both switches push the callee-saved registers and an 8-byte slot (the FP control words of the
// full switch), so their frames have one layout (fiber_init builds it).
#define MTLH_X86_SAVE        \
  "  .cfi_startproc\n"       \
  "  pushq %rbp\n"           \
  "  .cfi_adjust_cfa_offset 8\n" \
  "  pushq %rbx\n"           \
  "  .cfi_adjust_cfa_offset 8\n" \
  "  pushq %r12\n"           \
  "  .cfi_adjust_cfa_offset 8\n" \
  "  pushq %r13\n"           \
  "  .cfi_adjust_cfa_offset 8\n" \
  "  pushq %r14\n"           \
  "  .cfi_adjust_cfa_offset 8\n" \
  "  pushq %r15\n"           \
  "  .cfi_adjust_cfa_offset 8\n" \
  "  subq $8, %rsp\n"        \
  "  .cfi_adjust_cfa_offset 8\n"
#define MTLH_X86_RESTORE \
  "  addq $8, %rsp\n"    \
  "  popq %r15\n"        \
  "  popq %r14\n"        \
  "  popq %r13\n"        \
  "  popq %r12\n"        \
  "  popq %rbx\n"        \
  "  popq %rbp\n"        \
  "  ret\n"              \
  "  .cfi_endproc\n"
asm(MTLH_FUNC_BEGIN(mtlh_fiber_switch)
    MTLH_X86_SAVE
    "  stmxcsr (%rsp)\n"
    "  fnstcw 4(%rsp)\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  ldmxcsr (%rsp)\n"
    "  fldcw 4(%rsp)\n"
    MTLH_X86_RESTORE
    MTLH_FUNC_END(mtlh_fiber_switch)
    // Same frame layout, without the FP control words (fiber to fiber of one kernel).
    MTLH_FUNC_BEGIN(mtlh_fiber_switch_fast)
    MTLH_X86_SAVE
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    MTLH_X86_RESTORE
    MTLH_FUNC_END(mtlh_fiber_switch_fast)
    MTLH_FUNC_BEGIN(mtlh_fiber_entry)
    "  .cfi_startproc\n"
    "  .cfi_undefined rip\n"
    "  movq %r12, %rdi\n"
    "  callq *%r13\n"
    "  ud2\n"
    "  .cfi_endproc\n"
    MTLH_FUNC_END(mtlh_fiber_entry));
// clang-format on

namespace metal_host::rt {

uint64_t fiber_fp_state() {
  uint32_t mxcsr;
  uint16_t fpucw;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpucw));
  return uint64_t(mxcsr) | (uint64_t(fpucw) << 32);
}

void* fiber_init(void* stack_top, void (*fn)(void*), void* arg) {
  return fiber_init(stack_top, fn, arg, fiber_fp_state());
}

void* fiber_init(void* stack_top, void (*fn)(void*), void* arg, uint64_t fp_state) {
  // After `ret` into mtlh_fiber_entry, rsp = frame + 64 must be 16-aligned so that the call
  // there leaves the callee with the ABI alignment.
  uintptr_t top = reinterpret_cast<uintptr_t>(stack_top) & ~uintptr_t(15);
  uint64_t* frame = reinterpret_cast<uint64_t*>(top - 64 - 16);
  frame[0] = fp_state;
  frame[1] = 0;                                              // r15
  frame[2] = 0;                                              // r14
  frame[3] = reinterpret_cast<uint64_t>(fn);                 // r13
  frame[4] = reinterpret_cast<uint64_t>(arg);                // r12
  frame[5] = 0;                                              // rbx
  frame[6] = 0;                                              // rbp
  frame[7] = reinterpret_cast<uint64_t>(&mtlh_fiber_entry);  // return address
  frame[8] = 0;  // a null "return address" above the entry, for debuggers
  return frame;
}

}  // namespace metal_host::rt

#elif defined(__aarch64__)

// clang-format off
asm(MTLH_FUNC_BEGIN(mtlh_fiber_switch)
    "  .cfi_startproc\n"
    "  sub sp, sp, #160\n"
    "  .cfi_adjust_cfa_offset 160\n"
    "  stp x19, x20, [sp, #0]\n"
    "  stp x21, x22, [sp, #16]\n"
    "  stp x23, x24, [sp, #32]\n"
    "  stp x25, x26, [sp, #48]\n"
    "  stp x27, x28, [sp, #64]\n"
    "  stp x29, x30, [sp, #80]\n"
    "  stp d8, d9, [sp, #96]\n"
    "  stp d10, d11, [sp, #112]\n"
    "  stp d12, d13, [sp, #128]\n"
    "  stp d14, d15, [sp, #144]\n"
    "  mov x9, sp\n"
    "  str x9, [x0]\n"
    "  mov sp, x1\n"
    "  ldp x19, x20, [sp, #0]\n"
    "  ldp x21, x22, [sp, #16]\n"
    "  ldp x23, x24, [sp, #32]\n"
    "  ldp x25, x26, [sp, #48]\n"
    "  ldp x27, x28, [sp, #64]\n"
    "  ldp x29, x30, [sp, #80]\n"
    "  ldp d8, d9, [sp, #96]\n"
    "  ldp d10, d11, [sp, #112]\n"
    "  ldp d12, d13, [sp, #128]\n"
    "  ldp d14, d15, [sp, #144]\n"
    "  add sp, sp, #160\n"
    "  ret\n"
    "  .cfi_endproc\n"
    MTLH_FUNC_END(mtlh_fiber_switch)
    // No FP control state is switched on aarch64 (FPCR is not callee-saved): same as above.
    MTLH_FUNC_BEGIN(mtlh_fiber_switch_fast)
    "  b " MTLH_SYM(mtlh_fiber_switch) "\n"
    MTLH_FUNC_END(mtlh_fiber_switch_fast)
    MTLH_FUNC_BEGIN(mtlh_fiber_entry)
    "  .cfi_startproc\n"
    "  .cfi_undefined x30\n"
    "  mov x0, x19\n"
    "  blr x20\n"
    "  brk #0\n"
    "  .cfi_endproc\n"
    MTLH_FUNC_END(mtlh_fiber_entry));
// clang-format on

namespace metal_host::rt {

uint64_t fiber_fp_state() {
  return 0;
}

void* fiber_init(void* stack_top, void (*fn)(void*), void* arg) {
  return fiber_init(stack_top, fn, arg, 0);
}

void* fiber_init(void* stack_top, void (*fn)(void*), void* arg, uint64_t) {
  uintptr_t top = reinterpret_cast<uintptr_t>(stack_top) & ~uintptr_t(15);
  uint64_t* frame = reinterpret_cast<uint64_t*>(top - 160 - 16);
  std::memset(frame, 0, 160 + 16);
  frame[0] = reinterpret_cast<uint64_t>(arg);                 // x19
  frame[1] = reinterpret_cast<uint64_t>(fn);                  // x20
  frame[10] = 0;                                              // x29 (frame pointer)
  frame[11] = reinterpret_cast<uint64_t>(&mtlh_fiber_entry);  // x30
  return frame;
}

}  // namespace metal_host::rt

#else
#error "host fibers: unsupported architecture (x86-64 and aarch64 only)"
#endif
