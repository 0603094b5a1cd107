-- 16 pipelined requests per write, for the URL's own path (wrk -s pipeline_path.lua URL).
init = function(args)
  local r = {}
  for i = 1, 16 do
    r[i] = wrk.format(nil, nil)
  end
  req = table.concat(r)
end
request = function()
  return req
end
