// Where C++ meets Python: every entry point CPython calls (module and method tables, getters and
// setters, type slots, callbacks) goes through boundary<fn>, so no C++ exception ever unwinds into
// the interpreter (which would terminate the process). std::bad_alloc becomes MemoryError, any
// other std::exception a RuntimeError; the function's failure value (nullptr / -1) is returned.
#pragma once
#include <Python.h>

#include <exception>
#include <new>
#include <type_traits>

namespace fasterapi::bridge {

// Sets the Python exception for the C++ exception being handled. Call only inside a catch block.
inline void set_python_error_from_current() noexcept {
  try {
    throw;
  } catch (const std::bad_alloc&) { PyErr_NoMemory(); } catch (const std::exception& ex) {
    PyErr_SetString(PyExc_RuntimeError, ex.what());
  } catch (...) { PyErr_SetString(PyExc_RuntimeError, "unknown C++ exception"); }
}

// The value a CPython entry point returns to say "failed, exception set".
template <typename R>
constexpr R failure_value() noexcept {
  if constexpr (std::is_pointer_v<R>)
    return nullptr;
  else if constexpr (std::is_void_v<R>)
    return;
  else
    return R(-1);
}

template <auto Fn>
struct Boundary;

template <typename R, typename... A, R (*Fn)(A...)>
struct Boundary<Fn> {
  static R call(A... args) noexcept {
    try {
      return Fn(args...);
    } catch (...) {
      set_python_error_from_current();
      if constexpr (std::is_void_v<R>) {
        // A void slot (tp_dealloc, a callback) cannot report: the error is printed, not lost.
        PyErr_WriteUnraisable(nullptr);
        return;
      } else {
        return failure_value<R>();
      }
    }
  }
};

// boundary<fn>: fn wrapped as above, with fn's own signature (usable in PyMethodDef, PyGetSetDef,
// PyType_Slot tables after the usual casts).
template <auto Fn>
inline constexpr auto boundary = &Boundary<Fn>::call;

}  // namespace fasterapi::bridge
