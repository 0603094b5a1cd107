// Request fields as the bridge reads them for a compiled plan: query parameters, cookies, header
// values, percent-decoding and the JSON media-type rule. No Python here: each answers exactly as
// Starlette/FastAPI would for the plain forms (tests/native/fields_driver.cpp checks them).
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "http/message.hpp"

namespace fasterapi::http {

// Optional whitespace (space, tab) stripped from both ends.
std::string_view strip_ows(std::string_view s);

// Percent-decoding as urllib.parse.unquote does for ASCII: malformed escapes stay as they are.
// plus_is_space: '+' is a space (application/x-www-form-urlencoded, i.e. query strings).
void percent_decode(std::string_view in, std::string& out, bool plus_is_space);
// Whether percent_decode would change s.
bool needs_decode(std::string_view s, bool plus_is_space);

// The last occurrence of `key` in a query string, decoded, as Starlette's QueryParams.get() answers.
// The decoded value goes to `value` (its storage reused across calls).
bool query_lookup(std::string_view query, std::string_view key, std::string& value);

// The value of cookie `name` in a Cookie header, as Starlette's cookie_parser reads it:
// ';'-separated name=value, both stripped, the last one of that name wins. Not unquoted.
std::optional<std::string_view> cookie_lookup(std::string_view cookie_header, std::string_view name);

// The first header field with that name (any case), as Starlette's Headers.get() answers.
std::optional<std::string_view> first_header(const Request& req, std::string_view name);

// The one content-type rule: what the media type of a Content-Type value is (parameters after ';'
// and trailing whitespace ignored; "application/json" or any "+json" suffix is JSON).
enum class MediaKind { Absent, Json, Other };
MediaKind media_kind(std::string_view content_type);

}  // namespace fasterapi::http
