-- Refresh with rotation, each token used once: a queue of current refresh tokens (one
-- per sign-in, from the file TOKENS) feeds the requests; every response puts the
-- successor back. With at least as many sign-ins as connections, no token is ever in
-- flight twice. AUTH is the client's Basic credential.
local queue, head, tail = {}, 1, 0

local function push(token)
  tail = tail + 1
  queue[tail] = token
end

function init(args)
  for line in io.lines(os.getenv("TOKENS")) do
    if #line > 0 then push(line) end
  end
end

function request()
  local token = "exhausted"
  if head <= tail then
    token = queue[head]
    queue[head] = nil
    head = head + 1
  end
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = "Basic " .. os.getenv("AUTH"),
  }, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  local next = body:match('"refresh_token":"([^"]+)"')
  if next then push(next) end
end
