#pragma once

#include <tl/expected.hpp>
#include <utility>

namespace popbridge {

// Recoverable failures travel as values (STYLE.md 7.2). Each layer has one small error type.
template <class T, class E>
using Result = tl::expected<T, E>;

// fail(e): the error side of a Result, for `return fail(Error{...});`.
template <class E>
tl::unexpected<std::decay_t<E>> fail(E&& error) {
  return tl::unexpected<std::decay_t<E>>(std::forward<E>(error));
}

}  // namespace popbridge
