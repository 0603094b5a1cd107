-- 16 requests per write: measures the server, not the round trip.
init = function(args)
  local r = {}
  for i = 1, 16 do
    r[i] = wrk.format(nil, "/plaintext")
  end
  req = table.concat(r)
end
request = function()
  return req
end
