// Streamed request bodies (engine.stream_bodies): the connection's http::BodySink on one side, a
// _core.BodyReader on the other, sharing a bounded buffer. The connection stops reading the
// socket while the buffer is above its high-water mark; take() empties it and resumes reading.
#pragma once
#include <memory>

#include "bridge/state.hpp"
#include "server/link.hpp"

namespace fasterapi::bridge {

// From inside Dispatcher::handle() of a body_streamed request on `link`'s connection: a new
// BodyReader (new reference) whose sink is attached to that connection now; nullptr with a
// Python exception set on failure (the body is then read and discarded).
PyObject* make_body_reader(ModuleState* st, const std::shared_ptr<server::ConnLink>& link);

extern PyType_Spec body_reader_spec;

}  // namespace fasterapi::bridge
