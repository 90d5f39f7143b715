-- One websocket connection to the pixelsprite server, callback-driven (never blocks Aseprite's UI).
-- Routes answers to the request that asked, by id; runs `hello` on every (re)connect and checks the protocol.
local protocol = require("protocol")

local M = {}
M.__index = M

-- opts: url, on_state(state, detail) where state is "connecting" | "ready" | "closed" | "error" | "mismatch".
function M.new(opts)
  local self = setmetatable({ url = opts.url, on_state = opts.on_state or function() end,
                              pending = {}, state = "closed", server = nil }, M)
  return self
end

function M:_set(state, detail)
  self.state, self.detail = state, detail
  self.on_state(state, detail)
end

function M:connect()
  if self.ws then self.ws:close() end
  self:_set("connecting", self.url)
  self.ws = WebSocket{
    url = self.url,
    deflate = false,
    minreconnectwait = 1,
    maxreconnectwait = 10,
    onreceive = function(kind, data) self:_receive(kind, data) end,
  }
  self.ws:connect()
end

function M:close()
  if self.ws then self.ws:close() end
  self.ws = nil
  self:_fail_all("The connection to the server was closed.")
  self:_set("closed")
end

function M:_fail_all(text)
  local pending = self.pending
  self.pending = {}
  for _, h in pairs(pending) do
    if h.on_error then h.on_error({ code = "closed", message = text }, text) end
  end
end

function M:_receive(kind, data)
  if kind == WebSocketMessageType.OPEN then
    self:send(protocol.hello(), {
      on_result = function(r)
        local ok, why = protocol.check_hello(r)
        self.server = r
        if ok then self:_set("ready", r.version) else self:_set("mismatch", why) end
      end,
      on_error = function(_, text) self:_set("error", text) end,
    })
  elseif kind == WebSocketMessageType.TEXT then
    local msg, err = protocol.decode(data)
    if not msg then return self:_set("error", err) end
    local h = self.pending[msg.id]
    if not h then return end
    if msg.type == "progress" then
      if h.on_progress then h.on_progress(msg) end
    else
      self.pending[msg.id] = nil
      if msg.type == "result" then
        if h.on_result then h.on_result(msg) end
      elseif h.on_error then
        h.on_error(msg, protocol.explain(msg))
      end
    end
  elseif kind == WebSocketMessageType.CLOSE then
    self:_fail_all("The connection to the server broke; reconnecting.")
    if self.ws then self:_set("connecting", "no server at " .. self.url .. " (start it with: pixelsprite serve)") end
  end
end

-- Sends a request table; handlers: on_result(msg), on_progress(msg), on_error(msg, plain_text). Returns the id.
function M:send(msg, handlers)
  if not self.ws or (self.state ~= "ready" and msg.op ~= "hello") then
    local text = "Not connected to the pixelsprite server at " .. self.url .. "."
    if handlers and handlers.on_error then handlers.on_error({ code = "closed", message = text }, text) end
    return nil
  end
  self.pending[msg.id] = handlers or {}
  self.ws:sendText(protocol.encode(msg))
  return msg.id
end

-- Whether the server (per its hello) offers an operation; true when unknown (no hello yet).
function M:offers(op)
  local ops = self.server and self.server.operations
  if type(ops) ~= "table" then return true end
  for _, o in ipairs(ops) do if o == op then return true end end
  return false
end

-- Whether the server (per its hello) announces an optional feature such as "preview"; false when unknown, since
-- a server that does not know a feature's parameter refuses the request.
function M:supports(feature)
  local features = self.server and self.server.features
  if type(features) ~= "table" then return false end
  for _, f in ipairs(features) do if f == feature then return true end end
  return false
end

function M:cancel(target)
  if target and self.pending[target] then self:send(protocol.cancel(target)) end
end

return M
