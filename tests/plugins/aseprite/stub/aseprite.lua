-- A stub of the parts of Aseprite's Lua API (https://www.aseprite.org/api/) the extension uses, written from its
-- documentation: app, Image, Sprite, Layer, Frame, Cel, Palette, Color, Point, Rectangle, ColorMode, Dialog,
-- GraphicsContext, WebSocket, WebSocketMessageType, json. It also records what tests need to check: which document
-- edits happened inside app.transaction, the frames a WebSocket sent, and the widgets of a Dialog.
local stub = {}
local dir = ...

json = dofile(dir .. "/json.lua")

ColorMode = { RGB = 0, GRAYSCALE = 1, INDEXED = 2, TILEMAP = 3 }
WebSocketMessageType = { TEXT = 1, BINARY = 2, OPEN = 3, CLOSE = 4, PING = 5, PONG = 6, FRAGMENT = 7 }

app = { activeSprite = nil, activeFrame = nil, activeLayer = nil, activeCel = nil }
stub.edits = {}          -- { what = string, inside = bool }
stub.transactions = {}   -- labels of the transactions run
local depth = 0

local function edit(what)
  stub.edits[#stub.edits + 1] = { what = what, inside = depth > 0 }
end

function stub.reset()
  app.activeSprite, app.activeFrame, app.activeLayer, app.activeCel = nil, nil, nil, nil
  stub.edits, stub.transactions, stub.sockets, stub.dialogs, stub.alerts = {}, {}, {}, {}, {}
end

-- app.transaction(function) or app.transaction(label, function): one undo step.
function app.transaction(a, b)
  local label, fn = a, b
  if type(a) == "function" then label, fn = "", a end
  stub.transactions[#stub.transactions + 1] = label
  depth = depth + 1
  local ok, err = pcall(fn)
  depth = depth - 1
  if not ok then error(err, 0) end
end

function app.refresh() end
function app.alert(t) stub.alerts[#stub.alerts + 1] = t end

function Point(x, y) return { x = x or 0, y = y or 0 } end
function Rectangle(x, y, w, h) return { x = x or 0, y = y or 0, width = w or 0, height = h or 0 } end

-- Color{ r=, g=, b=, a= } -> .red .green .blue .alpha
function Color(t)
  return { red = t.r or t.red or 0, green = t.g or t.green or 0, blue = t.b or t.blue or 0,
           alpha = t.a or t.alpha or 255 }
end

-- Image(width, height [, colorMode]); image.bytes gets/sets the raw pixels (RGBA: 4 bytes per pixel, row-major).
local ImageMT = {}
ImageMT.__index = function(img, k)
  if k == "bytes" then return table.concat(img._px) end
  return ImageMT[k]
end
ImageMT.__newindex = function(img, k, v)
  if k == "bytes" then
    assert(type(v) == "string" and #v == img.width * img.height * 4, "Image.bytes: wrong number of bytes")
    for i = 1, img.width * img.height do img._px[i] = v:sub(i * 4 - 3, i * 4) end
  else rawset(img, k, v) end
end
function Image(w, h, mode)
  assert(type(w) == "number" and type(h) == "number", "Image(width, height, colorMode)")
  local px = {}
  for i = 1, w * h do px[i] = "\0\0\0\0" end
  return setmetatable({ width = w, height = h, colorMode = mode or ColorMode.RGB, _px = px }, ImageMT)
end
-- image:drawImage(src, Point): copies src's pixels at the position (alpha 0 source pixels leave the target).
function ImageMT.drawImage(img, src, pos)
  for y = 0, src.height - 1 do
    for x = 0, src.width - 1 do
      local tx, ty = x + pos.x, y + pos.y
      local p = src._px[y * src.width + x + 1]
      if tx >= 0 and ty >= 0 and tx < img.width and ty < img.height and p:byte(4) > 0 then
        img._px[ty * img.width + tx + 1] = p
      end
    end
  end
end
-- Test helper (not Aseprite API): the four bytes of a pixel.
function ImageMT.getPixelRGBA(img, x, y) return img._px[y * img.width + x + 1]:byte(1, 4) end

-- Palette(n): #palette, palette:getColor(i), palette:setColor(i, color), indices from 0.
local PaletteMT = {}
PaletteMT.__index = PaletteMT
PaletteMT.__len = function(p) return #p._c end
function Palette(n)
  local c = {}
  for i = 1, n or 256 do c[i] = Color{ r = 0, g = 0, b = 0, a = 255 } end
  return setmetatable({ _c = c }, PaletteMT)
end
function PaletteMT:getColor(i) assert(i >= 0 and i < #self._c, "index out of range"); return self._c[i + 1] end
function PaletteMT:setColor(i, c) assert(i >= 0 and i < #self._c, "index out of range"); self._c[i + 1] = c end

local SpriteMT = {}
SpriteMT.__index = SpriteMT

local function frame(sprite, n) return { frameNumber = n, sprite = sprite } end

local function layer(sprite, name)
  local l = { name = name, sprite = sprite, isImage = true, cels = {} }
  function l:cel(f)
    local n = type(f) == "table" and f.frameNumber or f
    return self.cels[n]
  end
  return l
end

-- Sprite(width, height [, colorMode]): one layer, one frame; becomes the active sprite.
function Sprite(w, h, mode)
  local s = setmetatable({ width = w, height = h, colorMode = mode or ColorMode.RGB, frames = {}, layers = {},
                           palettes = {}, selection = { isEmpty = true, bounds = Rectangle(0, 0, 0, 0) } },
                     SpriteMT)
  s.frames[1] = frame(s, 1)
  s.layers[1] = layer(s, "Layer 1")
  s.palettes[1] = Palette(256)
  app.activeSprite, app.activeFrame, app.activeLayer = s, s.frames[1], s.layers[1]
  return s
end

function SpriteMT:newLayer()
  edit("newLayer")
  local l = layer(self, "Layer " .. (#self.layers + 1))
  self.layers[#self.layers + 1] = l
  app.activeLayer = l
  return l
end

-- sprite:newEmptyFrame(frameNumber): inserts an empty frame at that number (cels after it move one on).
function SpriteMT:newEmptyFrame(n)
  edit("newEmptyFrame")
  n = n or #self.frames + 1
  assert(n >= 1 and n <= #self.frames + 1, "frame number out of range")
  for _, l in ipairs(self.layers) do
    for f = #self.frames, n, -1 do l.cels[f + 1] = l.cels[f] end
    l.cels[n] = nil
  end
  table.insert(self.frames, n, frame(self, n))
  for i, f in ipairs(self.frames) do f.frameNumber = i end
  return self.frames[n]
end

-- sprite:newCel(layer, frame, image, position)
function SpriteMT:newCel(l, f, image, pos)
  edit("newCel")
  local n = type(f) == "table" and f.frameNumber or f
  assert(self.frames[n], "frame " .. tostring(n) .. " does not exist")
  assert(image.colorMode == self.colorMode, "the image's color mode differs from the sprite's")
  local cel = { sprite = self, layer = l, frameNumber = n, image = image, position = pos or Point(0, 0) }
  l.cels[n] = cel
  return cel
end

function SpriteMT:setPalette(p)
  edit("setPalette")
  self.palettes[1] = p
end

-- GraphicsContext of a canvas onpaint event; records drawImage calls.
local function graphics(w, h)
  local gc = { width = w, height = h, antialias = true, color = Color{ r = 0, g = 0, b = 0 }, drawn = {} }
  function gc:drawImage(img, a, b)
    self.drawn[#self.drawn + 1] = { image = img, src = a, dst = b, antialias = self.antialias }
  end
  function gc:strokeRect(r) self.stroked = (self.stroked or 0) + 1 end
  function gc:fillRect(r) self.filled = (self.filled or 0) + 1 end
  return gc
end

-- Dialog{ title=, onclose= } with widget builders taking { id=, label=, text=, ... }.
local DialogMT = {}
DialogMT.__index = function(d, k)
  if k == "data" then
    local data = {}
    for id, w in pairs(d._w) do
      if w.kind == "number" then data[id] = tonumber(w.text)
      elseif w.kind == "combobox" then data[id] = w.option
      elseif w.kind == "slider" then data[id] = w.value
      elseif w.kind == "check" then data[id] = w.selected
      elseif w.kind == "entry" then data[id] = w.text
      elseif w.kind == "file" then data[id] = w.filename end
    end
    return data
  end
  return DialogMT[k]
end
function Dialog(t)
  t = type(t) == "string" and { title = t } or (t or {})
  local d = setmetatable({ title = t.title, onclose = t.onclose, _w = {}, _order = {}, visible = false }, DialogMT)
  stub.dialogs[#stub.dialogs + 1] = d
  return d
end
local function widget(kind)
  return function(d, t)
    t = t or {}
    t.kind = kind
    if t.enabled == nil then t.enabled = true end
    if kind == "combobox" and t.option == nil and t.options then t.option = t.options[1] end
    local id = t.id or (kind .. #d._order)
    d._w[id] = t
    d._order[#d._order + 1] = id
    return d
  end
end
for _, k in ipairs{ "label", "button", "combobox", "number", "slider", "check", "entry", "canvas", "separator",
                    "newrow", "color", "shades", "file", "radio" } do
  DialogMT[k] = widget(k)
end
function DialogMT:modify(t)
  local w = assert(self._w[t.id], "no widget " .. tostring(t.id))
  for k, v in pairs(t) do if k ~= "id" then w[k] = v end end
  if t.options and t.option == nil then w.option = t.options[1] end
  return self
end
function DialogMT:show(t) self.visible = true; self.wait = t and t.wait; return self end
function DialogMT:close()
  self.visible = false
  if self.onclose then self.onclose() end
  return self
end
function DialogMT:repaint()
  for _, id in ipairs(self._order) do
    local w = self._w[id]
    if w.kind == "canvas" and w.onpaint then
      w.gc = graphics(w.width, w.height)
      w.onpaint({ context = w.gc })
    end
  end
end
-- Test helpers (not Aseprite API): press a button, set a widget, click a canvas.
function DialogMT:_click(id)
  local w = assert(self._w[id], "no widget " .. id)
  assert(w.enabled, id .. " is disabled")
  w.onclick()
end
function DialogMT:_set(id, field, value) self._w[id][field] = value end
function DialogMT:_mousedown(id, x, y) self._w[id].onmousedown({ x = x, y = y, button = 1 }) end

-- WebSocket{ url=, onreceive=function(messageType, data), deflate=, minreconnectwait=, maxreconnectwait= }
local WebSocketMT = {}
WebSocketMT.__index = WebSocketMT
function WebSocket(t)
  local ws = setmetatable({ url = t.url, onreceive = t.onreceive, sent = {}, connected = false }, WebSocketMT)
  stub.sockets[#stub.sockets + 1] = ws
  return ws
end
function WebSocketMT:connect() self.connected = true end
function WebSocketMT:close() self.connected = false end
function WebSocketMT:sendText(...) self.sent[#self.sent + 1] = table.concat({ ... }) end
-- Test helpers: the server side.
function WebSocketMT:_open() self.onreceive(WebSocketMessageType.OPEN, "") end
function WebSocketMT:_text(s) self.onreceive(WebSocketMessageType.TEXT, s) end
function WebSocketMT:_last() return json.decode(self.sent[#self.sent]) end

stub.reset()
return stub
