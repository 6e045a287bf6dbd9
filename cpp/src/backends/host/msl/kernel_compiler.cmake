# The compiler of translated kernels: a clang >= 17 with __bf16 arithmetic, whatever compiles the
# rest. Real-world MSL relies on what Metal's clang-based compiler accepts and g++ rejects
# (duplicate `const` from `constant const T*`, GNU range designators `{[0 ... 3] = v}`, explicit
# specialisations in class scope), and Metal's bfloat is a builtin arithmetic type (`c ? bf : 0`),
# which only clang's __bf16 (clang >= 17) is; so kernels are always compiled with such a clang,
# and the core may be built with g++. Kernels compiled at run time search the same names with
# the same probe (python/metallic/_msl/compile.py).
#
#   METALLIC_KERNEL_CXX   the clang++ to use (default: the C++ compiler if it passes the probe,
#                         else the first of clang++, clang++-21 ... clang++-17 that does)
#
# Defines metallic_compile_kernel(OUT_OBJECT SOURCE): compiles one translated library to an object.

set(METALLIC_KERNEL_CXX "" CACHE FILEPATH "clang++ >= 17 for translated MSL kernels (empty: search)")

# Each half and bfloat operation rounds to its type, as on the GPU (clang's default keeps float
# precision across an expression). Older clangs reject these options.
set(METALLIC_KERNEL_ROUNDING_FLAGS -Xclang -ffloat16-excess-precision=none
    -Xclang -fbfloat16-excess-precision=none)
set(probe ${CMAKE_CURRENT_BINARY_DIR}/kernel_compiler_probe.cpp)
file(WRITE ${probe} "int main() { volatile float f = 3; __bf16 b = (__bf16)f; _Float16 h = (_Float16)f;
  return int(float(b * b) + float(h * h)); }\n")

# Sets ${out} to TRUE if `cxx` compiles the probe with the rounding flags.
function(metallic_is_kernel_compiler cxx out)
  execute_process(COMMAND ${cxx} -x c++ -std=c++17 ${METALLIC_KERNEL_ROUNDING_FLAGS} -c ${probe}
                          -o ${probe}.o
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(rc EQUAL 0)
    set(${out} TRUE PARENT_SCOPE)
  else()
    set(${out} FALSE PARENT_SCOPE)
  endif()
endfunction()

if(METALLIC_KERNEL_CXX)
  metallic_is_kernel_compiler(${METALLIC_KERNEL_CXX} ok)
  if(NOT ok)
    message(FATAL_ERROR "METALLIC_KERNEL_CXX=${METALLIC_KERNEL_CXX} is not a clang >= 17 with "
                        "__bf16 arithmetic")
  endif()
else()
  set(candidates ${CMAKE_CXX_COMPILER} clang++ clang++-21 clang++-20 clang++-19 clang++-18
                 clang++-17)
  foreach(name ${candidates})
    unset(path)  # find_program does not search again while `path` is set
    find_program(path NAMES ${name} NO_CACHE)
    if(path)
      metallic_is_kernel_compiler(${path} ok)
      if(ok)
        set(METALLIC_KERNEL_CXX ${path})
        break()
      endif()
    endif()
  endforeach()
  if(NOT METALLIC_KERNEL_CXX)
    message(FATAL_ERROR
      "metallic's host device compiles translated Metal kernels with clang >= 17 (with __bf16 "
      "arithmetic), and none was found (tried ${candidates}). Install one (Debian 12: apt-get "
      "install clang-19; Debian 13 / Ubuntu 24.04: apt-get install clang; macOS: the Xcode "
      "command line tools) or set -DMETALLIC_KERNEL_CXX=/path/to/clang++.")
  endif()
endif()
message(STATUS "metallic: translated kernels are compiled with ${METALLIC_KERNEL_CXX}")

# Flags of translated kernels, here and for kernels compiled at run time (compile.py's
# kernel_flags). F16C makes half arithmetic a few instructions instead of a library call per
# operation; MSL's char is signed. Stack-clash protection (Linux; macOS probes big frames
# already): a big frame probes its pages in order, so a large local array that overflows a fiber
# stack hits the guard (a DeviceError). The warnings turned off are about what MSL allows.
set(METALLIC_HOST_KERNEL_FLAGS -std=c++17 -fPIC -fno-strict-aliasing
    ${METALLIC_KERNEL_ROUNDING_FLAGS} -Wno-unknown-attributes
    -Wno-unknown-pragmas -Wno-duplicate-decl-specifier -Wno-c99-designator)
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  list(APPEND METALLIC_HOST_KERNEL_FLAGS -fstack-clash-protection)
endif()
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  list(APPEND METALLIC_HOST_KERNEL_FLAGS -mf16c)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  list(APPEND METALLIC_HOST_KERNEL_FLAGS -fsigned-char)
endif()
if(APPLE AND CMAKE_OSX_DEPLOYMENT_TARGET)
  list(APPEND METALLIC_HOST_KERNEL_FLAGS -mmacosx-version-min=${CMAKE_OSX_DEPLOYMENT_TARGET})
endif()
string(TOUPPER "${CMAKE_BUILD_TYPE}" build_type)
separate_arguments(METALLIC_HOST_KERNEL_CONFIG_FLAGS UNIX_COMMAND
                   "${CMAKE_CXX_FLAGS_${build_type}}")

function(metallic_compile_kernel object source)
  add_custom_command(
    OUTPUT ${object}
    COMMAND ${METALLIC_KERNEL_CXX} ${METALLIC_HOST_KERNEL_FLAGS} ${METALLIC_HOST_KERNEL_CONFIG_FLAGS}
            -I${METALLIC_MSL_INCLUDE} -MD -MF ${object}.d -c ${source} -o ${object}
    DEPENDS ${source}
    DEPFILE ${object}.d
    COMMENT "Compiling the translated kernels ${source}"
    VERBATIM)
endfunction()
