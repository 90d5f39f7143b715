-- One websocket connection to the pixelsprite server, callback-driven (never blocks Aseprite's UI).
-- Routes answers to the request that asked, by id; runs `hello` on every (re)connect and checks the protocol.
--
-- How Aseprite's WebSocket behaves (src/app/script/websocket_class.cpp, api/websocket.md), and what this file does
-- about it:
-- * WebSocket{} asks the user for network permission and raises when refused: connect() catches it, the state
--   becomes "error", and the next connect() (Reconnect, or the next dialog) asks again.
-- * onreceive runs later, from Aseprite's UI loop, inside pcall; an error escaping it is printed and STOPS the
--   socket for good. So every event is handled under pcall here, each handler separately; a failing handler is
--   reported through on_bug and the socket stays alive.
-- * A failed connection is an ERROR event (never CLOSE), repeated while Aseprite retries: state "offline" with the
--   hint to start the server. CLOSE comes when an open connection ends; Aseprite then reconnects by itself.
-- * close() delivers the old socket's CLOSE after a new socket may exist: every event is tied to its own socket
--   and those of a socket that is no longer ours are ignored.
-- * sendText raises when the socket is not open (e.g. the network broke before CLOSE arrived): send() reports it.
local protocol = require("protocol")

local M = {}
M.__index = M

local HINT = " (start it with: pixelsprite serve)"

-- Where a handler's error goes when nobody listens: Aseprite's console (its `print`).
local function print_bug(text) print("pixelsprite: " .. tostring(text)) end

-- opts: url, on_state(state, detail) where state is "connecting" | "offline" (no server yet; Aseprite retries) |
-- "ready" | "closed" | "error" | "mismatch"; on_bug(text): an error raised by a handler (default: printed to
-- Aseprite's console; a dialog shows it in its status line while open).
function M.new(opts)
  local self = setmetatable({ url = opts.url, on_state = opts.on_state or function() end, on_bug = opts.on_bug,
                              pending = {}, state = "closed", server = nil }, M)
  return self
end

function M:_bug(text)
  if not pcall(self.on_bug or print_bug, tostring(text)) then pcall(print_bug, text) end
end

-- Calls a handler without letting its error escape into Aseprite's onreceive (which would stop the socket).
function M:_call(fn, ...)
  if not fn then return true end
  local ok, err = pcall(fn, ...)
  if not ok then self:_bug(err) end
  return ok
end

function M:_set(state, detail)
  self.state, self.detail = state, detail
  self:_call(self.on_state, state, detail)
end

-- Whether the connection is up or Aseprite is still trying (a dialog then waits instead of reconnecting).
function M:active()
  return self.state == "ready" or self.state == "connecting" or self.state == "offline"
end

function M:connect()
  self:_drop_socket("The connection to the server was closed; reconnecting.")
  self.server = nil
  self:_set("connecting", self.url)
  local ws
  local ok, err = pcall(function()
    ws = WebSocket{
      url = self.url,
      deflate = false,
      minreconnectwait = 1,
      maxreconnectwait = 10,
      -- events of a socket that is no longer ours (its CLOSE after a reconnect) are ignored
      onreceive = function(kind, data, err_text)
        if ws == nil or ws ~= self.ws then return end
        local fine, e = pcall(self._receive, self, kind, data, err_text)
        if not fine then self:_bug(e) end
      end,
    }
  end)
  if not ok then
    self.ws = nil
    return self:_set("error", "Aseprite did not allow the network connection to " .. self.url
      .. "; press Reconnect to be asked again (" .. tostring(err) .. ").")
  end
  self.ws = ws
  local started, why = pcall(ws.connect, ws)
  if not started then
    self.ws = nil
    self:_set("error", tostring(why))
  end
end

-- Forgets the current socket (its late events are then ignored) and fails what was waiting on it.
function M:_drop_socket(text)
  local ws = self.ws
  self.ws = nil
  if ws then pcall(ws.close, ws) end
  self:_fail_all(text)
end

function M:close()
  self:_drop_socket("The connection to the server was closed.")
  self:_set("closed")
end

function M:_fail_all(text)
  local pending = self.pending
  self.pending = {}
  for _, h in pairs(pending) do
    self:_call(h.on_error, { code = "closed", message = text }, text)
  end
end

function M:_receive(kind, data, err_text)
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
      self:_call(h.on_progress, msg)
    else
      self.pending[msg.id] = nil
      if msg.type == "result" then
        self:_call(h.on_result, msg)
      else
        self:_call(h.on_error, msg, protocol.explain(msg))
      end
    end
  elseif kind == WebSocketMessageType.ERROR then
    -- no server (yet): Aseprite keeps trying, and OPEN follows once `pixelsprite serve` runs
    self:_fail_all("No pixelsprite server at " .. self.url .. HINT .. ".")
    local reason = (type(err_text) == "string" and err_text ~= "") and (": " .. err_text) or ""
    self:_set("offline", "no server at " .. self.url .. HINT .. reason)
  elseif kind == WebSocketMessageType.CLOSE then
    self:_fail_all("The connection to the server broke; reconnecting.")
    self.server = nil
    self:_set("connecting", "lost the server at " .. self.url .. "; reconnecting")
  end
end

-- Sends a request table; handlers: on_result(msg), on_progress(msg), on_error(msg, plain_text). Returns the id,
-- or nil when it could not be sent (on_error has then been called).
function M:send(msg, handlers)
  handlers = handlers or {}
  local function refuse(text)
    self:_call(handlers.on_error, { code = "closed", message = text }, text)
    return nil
  end
  if not self.ws or (self.state ~= "ready" and msg.op ~= "hello") then
    return refuse("Not connected to the pixelsprite server at " .. self.url .. ".")
  end
  self.pending[msg.id] = handlers
  local ok = pcall(self.ws.sendText, self.ws, protocol.encode(msg))
  if not ok then
    self.pending[msg.id] = nil
    return refuse("Not connected to the pixelsprite server at " .. self.url .. " (the connection broke).")
  end
  return msg.id
end

-- Whether the server (per its hello) offers an operation; true when unknown (no hello yet, or an older server).
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
