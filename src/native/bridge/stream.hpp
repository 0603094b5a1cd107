// Streaming responses: a StreamingResponse's head leaves at once (chunked on HTTP/1.1,
// close-delimited on HTTP/1.0), then each chunk as its Python iterator yields it. Python writes
// through a _core.StreamSink bound to the connection; the connection stays pending (no pipelined
// request is answered meanwhile) until the sink is closed or aborted.
#pragma once
#include <cstdint>
#include <memory>

#include "bridge/engine.hpp"

namespace fasterapi::bridge {

// The sink for a response whose head was just written into the connection's output.
// chunked: Transfer-Encoding: chunked framing (else the body ends when the connection closes).
// head_only: a HEAD request: chunks are dropped, close() ends the response.
// content_length >= 0: the head carries that Content-Length (the app's): chunks go out as they are,
// a write past it raises and closes the connection, a close() short of it closes the connection.
PyObject* make_stream_sink(EngineObject* e, const std::shared_ptr<server::ConnLink>& link, bool chunked, bool head_only,
                           int64_t content_length = -1);

// The sink will write nothing (its response was never started): for an error before the task ran.
void stream_sink_detach(PyObject* sink);

extern PyType_Spec stream_sink_spec;

}  // namespace fasterapi::bridge
