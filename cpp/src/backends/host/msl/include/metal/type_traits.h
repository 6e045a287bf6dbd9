// Emulated MSL metal_type_traits: the std traits Metal's header has, re-exported in namespace
// metal, with the arithmetic/floating-point traits extended to half and bfloat, the MSL vector
// traits and remove_addrspace. (Kept in namespace metal only: reach them with metal:: or
// `using namespace metal;`.) Not here, because Metal lacks them and libraries define their own
// in namespace metal (MLX's steel/utils/type_traits.h): is_empty, void_t, make_void.
#pragma once

#include <type_traits>

#include "metal/vector.h"

namespace metal {

using std::add_const;
using std::add_cv;
using std::add_lvalue_reference;
using std::add_pointer;
using std::add_rvalue_reference;
using std::add_volatile;
using std::bool_constant;
using std::conditional;
using std::conditional_t;
using std::conjunction;
using std::decay;
using std::decay_t;
using std::disjunction;
using std::enable_if;
using std::enable_if_t;
using std::extent;
using std::false_type;
using std::integral_constant;
using std::is_array;
using std::is_base_of;
using std::is_class;
using std::is_const;
using std::is_convertible;
using std::is_enum;
using std::is_function;
using std::is_integral;
using std::is_pointer;
using std::is_reference;
using std::is_same;
using std::is_trivially_copyable;
using std::is_void;
using std::is_volatile;
using std::make_signed;
using std::make_signed_t;
using std::make_unsigned;
using std::make_unsigned_t;
using std::negation;
using std::rank;
using std::remove_all_extents;
using std::remove_const;
using std::remove_const_t;
using std::remove_cv;
using std::remove_cv_t;
using std::remove_extent;
using std::remove_pointer;
using std::remove_pointer_t;
using std::remove_reference;
using std::remove_reference_t;
using std::remove_volatile;
using std::true_type;
using std::underlying_type;

// The _v variable templates of the re-exported traits.
template <class T, class U>
constexpr bool is_same_v = std::is_same<T, U>::value;
template <class From, class To>
constexpr bool is_convertible_v = std::is_convertible<From, To>::value;
template <class Base, class Derived>
constexpr bool is_base_of_v = std::is_base_of<Base, Derived>::value;
#define METAL_TRAIT_V(NAME) \
  template <class T>        \
  constexpr bool NAME##_v = std::NAME<T>::value;
METAL_TRAIT_V(is_array)
METAL_TRAIT_V(is_class)
METAL_TRAIT_V(is_const)
METAL_TRAIT_V(is_enum)
METAL_TRAIT_V(is_function)
METAL_TRAIT_V(is_integral)
METAL_TRAIT_V(is_pointer)
METAL_TRAIT_V(is_reference)
METAL_TRAIT_V(is_trivially_copyable)
METAL_TRAIT_V(is_void)
METAL_TRAIT_V(is_volatile)
#undef METAL_TRAIT_V

// One memory on the host: a type has no address space to remove (see address_spaces.py).
template <class T>
struct remove_addrspace {
  using type = T;
};
template <class T>
using remove_addrspace_t = typename remove_addrspace<T>::type;

template <class T>
struct is_floating_point : std::integral_constant<bool, detail::is_mfloat_v<std::remove_cv_t<T>>> {
};
template <class T>
constexpr bool is_floating_point_v = is_floating_point<T>::value;
template <class T>
struct is_arithmetic : std::integral_constant<bool, detail::is_mscalar_v<std::remove_cv_t<T>>> {};
template <class T>
constexpr bool is_arithmetic_v = is_arithmetic<T>::value;
template <class T>
struct is_signed : std::integral_constant<bool, std::is_signed<std::remove_cv_t<T>>::value ||
                                                    is_floating_point<T>::value> {};
template <class T>
constexpr bool is_signed_v = is_signed<T>::value;
template <class T>
struct is_unsigned : std::is_unsigned<T> {};
template <class T>
constexpr bool is_unsigned_v = is_unsigned<T>::value;

template <class T>
struct is_vector : std::false_type {};
template <class T, int N>
struct is_vector<vec<T, N>> : std::true_type {};
template <class T>
constexpr bool is_vector_v = is_vector<std::remove_cv_t<T>>::value;
template <class T>
struct is_packed_vector : std::false_type {};
template <class T, int N>
struct is_packed_vector<packed_vec<T, N>> : std::true_type {};
template <class T>
constexpr bool is_packed_vector_v = is_packed_vector<std::remove_cv_t<T>>::value;
template <class T>
struct is_scalar
    : std::integral_constant<bool, detail::is_mscalar_v<std::remove_cv_t<T>> ||
                                       std::is_enum<T>::value || std::is_pointer<T>::value> {};
template <class T>
constexpr bool is_scalar_v = is_scalar<T>::value;

template <class T>
struct vec_elements : std::integral_constant<int, 1> {};
template <class T, int N>
struct vec_elements<vec<T, N>> : std::integral_constant<int, N> {};
template <class T, int N>
struct vec_elements<packed_vec<T, N>> : std::integral_constant<int, N> {};
template <class T>
constexpr int vec_elements_v = vec_elements<std::remove_cv_t<T>>::value;

template <class T>
struct make_scalar {
  using type = T;
};
template <class T, int N>
struct make_scalar<vec<T, N>> {
  using type = T;
};
template <class T, int N>
struct make_scalar<packed_vec<T, N>> {
  using type = T;
};
template <class T>
using make_scalar_t = typename make_scalar<std::remove_cv_t<T>>::type;

}  // namespace metal
