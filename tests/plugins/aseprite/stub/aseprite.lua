-- Test double of the parts of Aseprite's Lua API the extension uses, rebuilt from Aseprite's own source rather than
-- from memory. Sources (read with the search tool's read_file / fetched snapshots):
--   aseprite/aseprite at d586b3f3f (2026-08): src/app/script/{json_class,websocket_class,dialog_class,image_class,
--     security,app_object,sprite_class,graphics_context,plugin_class,engine,selection_class,cel_class,layer_class,
--     point_class,rectangle_class,tileset_class,tile_class,grid_class,app_command_object,luacpp}.cpp,
--     src/app/script/api_version.h, src/app/commands/{cmd_new_layer,new_params}.cpp, src/app/context.cpp,
--     src/doc/sprite.cpp, src/doc/mask.h, src/ui/combobox.cpp, tests/scripts/{tilemap,tileset}.lua (tilemaps
--     checked at the tags v1.3-rc1, v1.3-rc3 and v1.3-rc5 as well as d586b3f3f),
--     src/app/ui/filename_field.cpp, src/app/ui/expr_entry.cpp, src/app/extensions.cpp, tests/scripts/json.lua;
--   aseprite/IXWebSocket ixwebsocket/IXWebSocket.cpp (the websocket client Aseprite embeds);
--   aseprite/laf base/fs.cpp (paths); aseprite/api at 74ace0f: api/{websocket,websocketmessagetype,json,dialog,
--     image,plugin,app,sprite,layer,tileset,tile}.md.
-- Every behaviour below names the file it follows; "simplified" marks what the double leaves out.
--
-- Besides the API, the double records what the specs check (edits inside app.transaction, frames a socket sent,
-- dialog widgets, permission prompts, errors Aseprite would print to its console) and offers "user" and "server"
-- actions (methods starting with "_"), which are not Aseprite API.
local stub = {}
local dir = ...

-- Lua's own io/os functions, which the double replaces below; kept in the Lua registry so that a second spec file
-- loading the double (busted insulates globals between files, not the io and os tables) still finds them.
local registry = debug.getregistry()
registry.pixelsprite_real_io = registry.pixelsprite_real_io
  or { open = io.open, lines = io.lines, remove = os.remove, tmpname = os.tmpname, execute = os.execute }
local real = registry.pixelsprite_real_io
stub.real = real

local json_double = dofile(dir .. "/json.lua")
json = json_double.json
stub.plain = json_double.plain
stub.is_proxy = json_double.is_proxy

-- ColorMode (engine.cpp setfield_integer of doc::ColorMode, src/doc/color_mode.h): RGB 0, GRAYSCALE 1, INDEXED 2,
-- (BITMAP 3,) TILEMAP 4.
ColorMode = { RGB = 0, GRAYSCALE = 1, INDEXED = 2, TILEMAP = 4 }

-- WebSocketMessageType (websocket_class.cpp register_websocket_class): the values of ix::WebSocketMessageType
-- (IXWebSocketMessageType.h: Message 0, Open 1, Close 2, Error 3, Ping 4, Pong 5, Fragment 6) and BINARY =
-- Fragment + 10. Upper-case names since 5d04eb5a2 (v1.2.30).
WebSocketMessageType = { TEXT = 0, OPEN = 1, CLOSE = 2, ERROR = 3, PING = 4, PONG = 5, FRAGMENT = 6, BINARY = 16 }

app = {}

-- luacpp.cpp __generic_mt_index: reading a field that an Aseprite object does not have raises "Field '<k>' does not
-- exist" (it does not return nil), so code that probes for newer API must do it under pcall or by app.apiVersion.
local function no_field(k) error("Field '" .. tostring(k) .. "' does not exist", 3) end

-- app_object.cpp App_get_apiVersion: API_VERSION of src/app/script/api_version.h (21 = v1.3-rc1, 23 = v1.3-rc3,
-- 25 = v1.3-rc5, 41 at d586b3f3f); stub.api_version picks the Aseprite the double plays (see stub.reset).
setmetatable(app, { __index = function(_, k)
  if k == "apiVersion" then return stub.api_version end
  return nil
end })

---------------------------------------------------------------------------------------------------------------
-- The UI thread. websocket_class.cpp runs every onreceive through ui::execute_from_ui_thread: the callback runs
-- later, from Aseprite's event loop, never inside the Lua call that caused it (e.g. ws:close()). The double keeps
-- those callbacks in a queue; stub.pump() is the event loop running them. Every "_" action below pumps after it.
---------------------------------------------------------------------------------------------------------------
stub.queue = {}
-- Test helper (not Aseprite API): the event loop runs the queued callbacks (ui::execute_from_ui_thread).
function stub.pump()
  while #stub.queue > 0 do
    local job = table.remove(stub.queue, 1)
    job()
  end
end

-- Aseprite prints errors that scripts raise inside its callbacks to its console (engine.cpp consolePrint) instead
-- of stopping; the double records them.
local function console(msg) stub.console[#stub.console + 1] = tostring(msg) end

---------------------------------------------------------------------------------------------------------------
-- Permissions (security.cpp ask_access): with the UI, io.open/io.lines and WebSocket{} ask the user ("Allow" or
-- "Stop"); a refusal makes the call raise. stub.access[mode] = false models the user pressing Stop (modes: "read",
-- "write", "socket"); every prompt is recorded in stub.prompts. ("Don't show again" is the default true.)
---------------------------------------------------------------------------------------------------------------
local function ask_access(mode, what)
  stub.prompts[#stub.prompts + 1] = { mode = mode, what = what }
  return stub.access[mode] ~= false
end

local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  return stub.current_path .. "/" .. path
end

-- security.cpp secure_io_open: "w" anywhere in the mode asks for Write, else Read; refused ->
-- luaL_error("the script doesn't have access to file '%s'") with the absolute path. It raises, it does not return nil.
function io.open(path, mode)
  local abs = absolute(path)
  local m = (mode and mode:find("w")) and "write" or "read"
  if not ask_access(m, abs) then error("the script doesn't have access to file '" .. abs .. "'", 2) end
  if m == "write" and abs:sub(1, #stub.current_path + 1) == stub.current_path .. "/" then
    real.execute("mkdir -p '" .. stub.current_path .. "'")
  end
  return real.open(path, mode)
end

-- security.cpp secure_io_lines: asks for Read when given a file name.
function io.lines(path, ...)
  if path and not ask_access("read", absolute(path)) then
    error("the script doesn't have access to file '" .. absolute(path) .. "'", 2)
  end
  return real.lines(path, ...)
end

-- security.cpp overwrite_unsecure_functions: os.exit and os.tmpname are replaced by a function raising
-- "unsupported function"; os.remove asks for Write and returns fail (nil, message, errno) when refused.
function os.tmpname() error("unsupported function 'tmpname'", 2) end
-- security.cpp secure_os_remove: asks for Write; refused -> fail (nil, "<file>: Permission denied", EACCES).
function os.remove(path)
  if not ask_access("write", absolute(path)) then return nil, absolute(path) .. ": Permission denied", 13 end
  return real.remove(path)
end

---------------------------------------------------------------------------------------------------------------
-- app (app_object.cpp)
---------------------------------------------------------------------------------------------------------------
stub.edits = {}          -- { what = string, inside = bool }: document edits, and whether inside app.transaction
stub.transactions = {}   -- labels of the transactions run
local depth = 0

local function edit(what)
  stub.edits[#stub.edits + 1] = { what = what, inside = depth > 0 }
end

-- A fresh folder name for the "current path"; the folder is made when something is written there.
local function new_tmp_dir()
  local p = real.tmpname()
  real.remove(p)
  return p
end

-- Test helper (not Aseprite API): a fresh Aseprite session for each spec.
function stub.reset()
  app.activeSprite, app.activeFrame, app.activeLayer, app.activeCel = nil, nil, nil, nil
  stub.edits, stub.transactions, stub.sockets, stub.dialogs, stub.alerts = {}, {}, {}, {}, {}
  stub.queue, stub.console, stub.prompts = {}, {}, {}
  stub.access = { read = true, write = true, socket = true }
  -- Dialog:file{} without a sprite file uses the current path (base::get_current_path); a fresh folder per test
  if stub.current_path then real.execute("rm -rf '" .. stub.current_path .. "'") end
  stub.current_path = new_tmp_dir()
  -- rowStride - width * bytesPerPixel; 0 in current builds (doc/image_impl.h), the API only promises rowStride
  stub.row_padding = 0
  -- IXWebSocket completes the close handshake when the server answers the close frame; true: at the next pump
  stub.auto_close_reply = true
  -- the third onreceive argument (error text) exists since 85aae160a (v1.3.15.5)
  stub.onreceive_error_arg = true
  -- app.apiVersion (api_version.h): 41 at d586b3f3f; set lower to play an older Aseprite (the tilemap API below
  -- follows it: Sprite:newTile / Sprite:newTileset since v1.3-rc1 = 21, NewLayer's gridBounds since v1.3-rc3 = 23)
  stub.api_version = 41
  -- commands whose onEnabled is false (Context::executeCommand then runs nothing; see app.command below)
  stub.disabled_commands = {}
end

-- app_object.cpp App_transaction: app.transaction(function) or app.transaction(label, function); one undo step; an
-- error inside rolls it back and is raised again (lua_error).
function app.transaction(a, b)
  local label, fn = a, b
  if type(a) == "function" then label, fn = "Transaction", a end
  stub.transactions[#stub.transactions + 1] = label
  depth = depth + 1
  local ok, err = pcall(fn)
  depth = depth - 1
  if not ok then error(err, 0) end
end

-- app_object.cpp App_refresh: redraws the editors (nothing to model).
function app.refresh() end
-- app_object.cpp App_alert: app.alert(text) or app.alert{ title=, text=, buttons= }; the double records the text.
function app.alert(t) stub.alerts[#stub.alerts + 1] = type(t) == "table" and t.text or t end

-- Point/Rectangle (point_class.cpp, rectangle_class.cpp): simplified to plain tables with the same fields.
function Point(x, y) return { x = x or 0, y = y or 0 } end
-- rectangle_class.cpp: Rectangle(x, y, width, height); a table here.
function Rectangle(x, y, w, h) return { x = x or 0, y = y or 0, width = w or 0, height = h or 0 } end

-- Color{ r=, g=, b=, a= } -> .red .green .blue .alpha (color_class.cpp); simplified to a table.
function Color(t)
  return { red = t.r or t.red or 0, green = t.g or t.green or 0, blue = t.b or t.blue or 0,
           alpha = t.a or t.alpha or 255 }
end

---------------------------------------------------------------------------------------------------------------
-- Image (image_class.cpp)
---------------------------------------------------------------------------------------------------------------
local BPP = { [0] = 4, [1] = 2, [2] = 1, [4] = 4 }
local ImageMT = {}
-- image_class.cpp Image_get_rowStride = image->rowBytes(); Image_get_bytes: rowStride * height bytes, row by row (the
-- API page image.md: "The number of bytes must be equal to image.rowStride * image.height"). RGB pixels are R, G, B,
-- A.
ImageMT.__index = function(img, k)
  if k == "rowStride" then return img.width * BPP[img.colorMode] + rawget(img, "_pad") end
  if k == "bytesPerPixel" then return BPP[img.colorMode] end
  if k == "bytes" then
    local rows, pad = {}, string.rep("\0", rawget(img, "_pad"))
    for y = 0, img.height - 1 do
      rows[#rows + 1] = table.concat(img._px, "", y * img.width + 1, (y + 1) * img.width) .. pad
    end
    return table.concat(rows)
  end
  return ImageMT[k]
end
-- image_class.cpp Image_set_bytes: exactly rowStride * height bytes, else luaL_error("Data size does not match: given
-- %d, needed %d.")
ImageMT.__newindex = function(img, k, v)
  if k == "bytes" then
    local bpp, stride = BPP[img.colorMode], img.rowStride
    local needed = stride * img.height
    if type(v) ~= "string" or #v ~= needed then
      error(string.format("Data size does not match: given %d, needed %d.", type(v) == "string" and #v or 0,
        needed), 2)
    end
    for y = 0, img.height - 1 do
      for x = 0, img.width - 1 do
        local at = y * stride + x * bpp + 1
        img._px[y * img.width + x + 1] = v:sub(at, at + bpp - 1)
      end
    end
  else rawset(img, k, v) end
end
-- image_class.cpp Image_new(width, height [, colorMode]): lua_tointeger on the sizes (an integral float works, 16.5
-- becomes 0), a size below 1 becomes 1; the image starts cleared to the mask colour (transparent).
function Image(w, h, mode)
  w, h = math.tointeger(w) or 0, math.tointeger(h) or 0
  if w < 1 then w = 1 end
  if h < 1 then h = 1 end
  mode = mode or ColorMode.RGB
  local px, zero = {}, string.rep("\0", BPP[mode])
  for i = 1, w * h do px[i] = zero end
  return setmetatable({ width = w, height = h, colorMode = mode, _px = px, _pad = stub.row_padding }, ImageMT)
end
-- image_class.cpp Image_drawImage(src, position): simplified to copying the source's non-transparent pixels (real
-- Aseprite blends with opacity and blend mode; the extension only draws opaque or fully transparent pixels).
function ImageMT.drawImage(img, src, pos)
  for y = 0, src.height - 1 do
    for x = 0, src.width - 1 do
      local tx, ty = x + pos.x, y + pos.y
      local p = src._px[y * src.width + x + 1]
      if tx >= 0 and ty >= 0 and tx < img.width and ty < img.height and p:byte(#p) > 0 then
        img._px[ty * img.width + tx + 1] = p
      end
    end
  end
end
-- Test helper (not Aseprite API): the four bytes of a pixel.
function ImageMT.getPixelRGBA(img, x, y) return img._px[y * img.width + x + 1]:byte(1, 4) end

-- The raw value of a pixel as bytes: doc::color_t for RGB is r | g << 8 | b << 16 | a << 24 (doc/color.h), a
-- tilemap pixel is a doc::tile_t, the tile index (and flip flags in the high bits: doc/tile.h); little-endian.
local PIXEL_FORMAT = { [1] = "<I1", [2] = "<I2", [4] = "<I4" }
local function pixel_bytes(img, v)
  local bpp = BPP[img.colorMode]
  if type(v) == "table" then  -- a Color (convert_args_into_pixel_color); RGB images only in the double
    return string.char(v.red, v.green, v.blue, v.alpha)
  end
  return string.pack(PIXEL_FORMAT[bpp], (math.tointeger(v) or 0) & ((1 << (8 * bpp)) - 1))
end
-- image_class.cpp Image_drawPixel (also registered as putPixel): an integer is the raw pixel value (lua_isinteger),
-- anything else a colour; doc::put_pixel ignores points outside the image.
function ImageMT.drawPixel(img, x, y, v)
  x, y = math.tointeger(x) or 0, math.tointeger(y) or 0
  if x < 0 or y < 0 or x >= img.width or y >= img.height then return end
  img._px[y * img.width + x + 1] = pixel_bytes(img, v)
end
-- image_class.cpp: { "putPixel", Image_drawPixel }.
ImageMT.putPixel = ImageMT.drawPixel
-- image_class.cpp Image_getPixel: the raw value (doc::get_pixel) as an integer; outside the image raises.
function ImageMT.getPixel(img, x, y)
  assert(x >= 0 and y >= 0 and x < img.width and y < img.height, "index out of bounds")
  return (string.unpack(PIXEL_FORMAT[BPP[img.colorMode]], img._px[y * img.width + x + 1]))
end

-- Palette(n): #palette, palette:getColor(i), palette:setColor(i, color), indices from 0 (palette_class.cpp).
local PaletteMT = {}
PaletteMT.__index = PaletteMT
-- palette_class.cpp Palette_len: #palette is its number of colours.
PaletteMT.__len = function(p) return #p._c end
-- palette_class.cpp Palette_new(n): n black opaque colours (256 by default).
function Palette(n)
  local c = {}
  for i = 1, n or 256 do c[i] = Color{ r = 0, g = 0, b = 0, a = 255 } end
  return setmetatable({ _c = c }, PaletteMT)
end
-- palette_class.cpp Palette_getColor(i) / Palette_setColor(i, color): indices from 0; out of range raises.
function PaletteMT:getColor(i) assert(i >= 0 and i < #self._c, "index out of range"); return self._c[i + 1] end
-- palette_class.cpp Palette_setColor: see getColor.
function PaletteMT:setColor(i, c) assert(i >= 0 and i < #self._c, "index out of range"); self._c[i + 1] = c end

---------------------------------------------------------------------------------------------------------------
-- Selection (selection_class.cpp over doc::Mask, src/doc/mask.h): a set of pixels, which may reach past the canvas.
-- The double keeps the selected pixels in a set; the real one a bitmap and its bounds.
---------------------------------------------------------------------------------------------------------------
local SelectionMT = {}

-- point_class.cpp Point_new (convert_args_into_point): a Point, a table {x=, y=} or {x, y}, or two integers.
local function point_args(a, b)
  if type(a) == "table" then
    if a.x ~= nil then return math.tointeger(a.x) or 0, math.tointeger(a.y) or 0 end
    return math.tointeger(a[1]) or 0, math.tointeger(a[2]) or 0
  end
  return math.tointeger(a) or 0, math.tointeger(b) or 0
end

-- rectangle_class.cpp Rectangle_new (convert_args_into_rect): a Rectangle, a table {x=, y=, width=, height=} (or w,
-- h) or {x, y, w, h}, or four integers; nothing gives the empty rectangle (0, 0, 0, 0).
local function rect_args(a, b, c, d)
  if type(a) == "table" then
    if a.x ~= nil then
      return math.tointeger(a.x) or 0, math.tointeger(a.y) or 0, math.tointeger(a.width or a.w) or 0,
        math.tointeger(a.height or a.h) or 0
    end
    return math.tointeger(a[1]) or 0, math.tointeger(a[2]) or 0, math.tointeger(a[3]) or 0, math.tointeger(a[4]) or 0
  end
  return math.tointeger(a) or 0, math.tointeger(b) or 0, math.tointeger(c) or 0, math.tointeger(d) or 0
end

local function rect_pixels(x, y, w, h)
  local set = {}
  for v = y, y + h - 1 do for u = x, x + w - 1 do set[u .. "," .. v] = true end end
  return set
end

local function is_selection(v) return getmetatable(v) == SelectionMT end

-- The pixels of a Selection or of rectangle arguments.
local function pixels_of(...)
  local a = ...
  if is_selection(a) then return rawget(a, "_px") end
  local x, y, w, h = rect_args(...)
  if w <= 0 or h <= 0 then return {} end
  return rect_pixels(x, y, w, h)
end

local function copy_set(set)
  local out = {}
  for k in pairs(set) do out[k] = true end
  return out
end

-- doc/mask.h Mask::bounds: the smallest rectangle holding the selected pixels (the mask is shrunk after every
-- operation); empty: (0, 0, 0, 0).
local function bounds_of(set)
  local x0, y0, x1, y1
  for k in pairs(set) do
    local x, y = k:match("^(-?%d+),(-?%d+)$")
    x, y = tonumber(x), tonumber(y)
    x0, y0 = math.min(x0 or x, x), math.min(y0 or y, y)
    x1, y1 = math.max(x1 or x, x), math.max(y1 or y, y)
  end
  if not x0 then return Rectangle(0, 0, 0, 0) end
  return Rectangle(x0, y0, x1 - x0 + 1, y1 - y0 + 1)
end

-- selection_class.cpp Selection_get_bounds / Selection_get_origin / Selection_get_isEmpty (properties).
SelectionMT.__index = function(sel, k)
  if k == "bounds" then return bounds_of(rawget(sel, "_px")) end
  if k == "origin" then
    local b = bounds_of(rawget(sel, "_px"))
    return Point(b.x, b.y)
  end
  if k == "isEmpty" then return next(rawget(sel, "_px")) == nil end
  return SelectionMT[k]
end

-- selection_class.cpp Selection_new([rectangle]): a selection of its own (no sprite), empty or the rectangle.
function Selection(...)
  return setmetatable({ _px = pixels_of(...), _sprite = nil }, SelectionMT)
end

-- selection_class.cpp: a selection of a sprite changes the document's mask through a transaction (Tx + SetMask, one
-- undoable edit); a Selection of its own just changes.
local function set_pixels(sel, set)
  if rawget(sel, "_sprite") then edit("setMask") end
  rawset(sel, "_px", set)
end

-- selection_class.cpp Selection_contains(point): Mask::containsPoint (doc/mask.h): inside the bounds and selected.
function SelectionMT:contains(...)
  local x, y = point_args(...)
  return rawget(self, "_px")[x .. "," .. y] == true
end
-- selection_class.cpp Selection_select(rectangle | selection): replaces the selection (an empty rectangle
-- deselects).
function SelectionMT:select(...) set_pixels(self, copy_set(pixels_of(...))) end
-- selection_class.cpp Selection_add(rectangle | selection): the union.
function SelectionMT:add(...)
  local set = copy_set(rawget(self, "_px"))
  for k in pairs(pixels_of(...)) do set[k] = true end
  set_pixels(self, set)
end
-- selection_class.cpp Selection_subtract(rectangle | selection): the difference.
function SelectionMT:subtract(...)
  local set = copy_set(rawget(self, "_px"))
  for k in pairs(pixels_of(...)) do set[k] = nil end
  set_pixels(self, set)
end
-- selection_class.cpp Selection_intersect(rectangle | selection): the intersection.
function SelectionMT:intersect(...)
  local other, set = pixels_of(...), {}
  for k in pairs(rawget(self, "_px")) do if other[k] then set[k] = true end end
  set_pixels(self, set)
end
-- selection_class.cpp Selection_selectAll: a sprite's selection becomes the whole canvas; a Selection of its own
-- becomes its bounds filled.
function SelectionMT:selectAll()
  local sprite = rawget(self, "_sprite")
  if sprite then return set_pixels(self, rect_pixels(0, 0, sprite.width, sprite.height)) end
  local b = bounds_of(rawget(self, "_px"))
  set_pixels(self, rect_pixels(b.x, b.y, b.width, b.height))
end
-- selection_class.cpp Selection_deselect: empties it (a sprite's: DeselectMask, undoable).
function SelectionMT:deselect() set_pixels(self, {}) end

---------------------------------------------------------------------------------------------------------------
-- Sprite, Layer, Frame, Cel (sprite_class.cpp, layer_class.cpp, cel_class.cpp); simplified to tables.
---------------------------------------------------------------------------------------------------------------
local SpriteMT = {}
local SINCE = { newTile = 21, newTileset = 21, deleteTileset = 21 }  -- app.apiVersion that brought these Sprite methods
-- sprite_class.cpp Sprite_get_selection: the document's mask as a Selection tied to the sprite (push_sprite_selection;
-- the double gives the same object each time, which reads and changes the same mask as the real new proxies do).
-- Sprite_get_gridBounds: the grid's bounds (doc/sprite.cpp: Sprite::DefaultGridBounds() = 0, 0, 16, 16 for a new
-- sprite). Any other field the sprite lacks raises (luacpp.cpp); Sprite:newTile / newTileset / deleteTileset exist since v1.3-rc1
-- (c299be50a, 822357869: API 21).
SpriteMT.__index = function(s, k)
  if k == "selection" then return rawget(s, "_selection") end
  if k == "gridBounds" then
    local b = rawget(s, "_gridBounds")
    return Rectangle(b.x, b.y, b.width, b.height)
  end
  if SpriteMT[k] and (stub.api_version or 0) >= (SINCE[k] or 0) then return SpriteMT[k] end
  no_field(k)
end
-- sprite_class.cpp Sprite_set_selection(selection): the mask becomes a copy of the given Selection (SetMask, an
-- undoable edit); anything else is an argument error (get_mask_from_arg -> get_obj<SelectionObj>).
SpriteMT.__newindex = function(s, k, v)
  if k == "selection" then
    if not is_selection(v) then error("bad argument #2 to 'selection' (Selection expected)", 2) end
    set_pixels(rawget(s, "_selection"), copy_set(rawget(v, "_px")))
  elseif k == "gridBounds" then  -- Sprite_set_gridBounds: convert_args_into_rect, cmd::SetGridBounds (undoable)
    edit("setGridBounds")
    local x, y, w, h = rect_args(v)
    rawset(s, "_gridBounds", Rectangle(x, y, w, h))
  else
    rawset(s, k, v)
  end
end

local function frame(sprite, n) return { frameNumber = n, sprite = sprite } end
local LayerMT = {}

-- layer_class.cpp: isImage / isTilemap / isGroup / isBackground; Layer_cel(frame): the cel or nil. A tilemap layer
-- (doc::LayerTilemap, a LayerImage: isImage is true too) has a tileset: Layer_get_tileset returns it, and nil for
-- any other layer; Layer_set_tileset (since a6c1b2bc8, v1.3-rc1) changes a tilemap's tileset (cmd::SetLayerTileset).
-- Any other field the layer lacks raises (luacpp.cpp).
LayerMT.__index = function(l, k)
  if k == "tileset" then return rawget(l, "_tileset") end
  if LayerMT[k] then return LayerMT[k] end
  no_field(k)
end
-- layer_class.cpp Layer_set_tileset: only for tilemap layers; anything else is ignored.
LayerMT.__newindex = function(l, k, v)
  if k == "tileset" then
    if rawget(l, "isTilemap") then
      edit("setLayerTileset")
      rawset(l, "_tileset", v)
    end
    return
  end
  error("Cannot set field '" .. tostring(k) .. "'", 2)
end
-- layer_class.cpp Layer_cel(frame): the cel in that frame or nil.
function LayerMT:cel(f)
  local n = type(f) == "table" and f.frameNumber or f
  return self.cels[n]
end

local function layer(sprite, name, tileset)
  return setmetatable({ name = name, sprite = sprite, isImage = true, isTilemap = tileset ~= nil, isGroup = false,
                        isBackground = false, cels = {}, _tileset = tileset }, LayerMT)
end

-- sprite_class.cpp Sprite_new(width, height [, colorMode]): one layer, one frame, a 256-colour palette; sizes below 1
-- raise; the new document joins the context and becomes the active sprite. A new sprite has no file name (no folder).
function Sprite(w, h, mode)
  if (math.tointeger(w) or 0) < 1 then error(string.format("invalid width value = %d in Sprite()", 0), 2) end
  if (math.tointeger(h) or 0) < 1 then error(string.format("invalid height value = %d in Sprite()", 0), 2) end
  local s = setmetatable({ width = w, height = h, colorMode = mode or ColorMode.RGB, frames = {}, layers = {},
                           palettes = {}, tilesets = {}, filename = "Sprite-0001",
                           _gridBounds = Rectangle(0, 0, 16, 16) }, SpriteMT)
  rawset(s, "_selection", setmetatable({ _px = {}, _sprite = s }, SelectionMT))
  s.frames[1] = frame(s, 1)
  s.layers[1] = layer(s, "Layer 1")
  s.palettes[1] = Palette(256)
  app.activeSprite, app.activeFrame, app.activeLayer = s, s.frames[1], s.layers[1]
  return s
end

-- sprite_class.cpp Sprite_newLayer: a new image layer on top, which becomes the active layer.
function SpriteMT:newLayer()
  edit("newLayer")
  local l = layer(self, "Layer " .. (#self.layers + 1))
  self.layers[#self.layers + 1] = l
  app.activeLayer = l
  return l
end

-- sprite_class.cpp Sprite_newEmptyFrame(frameNumber): inserts an empty frame at that number (cels after it move one
-- on).
function SpriteMT:newEmptyFrame(n)
  edit("newEmptyFrame")
  n = n or #self.frames + 1
  if n < 1 or n > #self.frames + 1 then error("frame index out of bounds " .. tostring(n), 2) end
  for _, l in ipairs(self.layers) do
    for f = #self.frames, n, -1 do l.cels[f + 1] = l.cels[f] end
    l.cels[n] = nil
  end
  table.insert(self.frames, n, frame(self, n))
  for i, f in ipairs(self.frames) do f.frameNumber = i end
  return self.frames[n]
end

local function copy_image(image)
  local copy = Image(image.width, image.height, image.colorMode)
  for i, p in ipairs(image._px) do copy._px[i] = p end
  return copy
end

-- Cel (cel_class.cpp): sprite, layer, frameNumber; `image` (Cel_get_image: the cel's image itself) and `position`
-- (Cel_get_position: a new Point), both settable.
local CelMT = {}
-- cel_class.cpp Cel_get_image / Cel_get_position / Cel_get_bounds (the cel's position and image size; a tilemap
-- image in a tilemap layer counts in tiles: doc/cel_data.cpp CelData::adjustBounds, Grid::tilemapSizeToCanvas).
CelMT.__index = function(cel, k)
  if k == "image" then return rawget(cel, "_image") end
  if k == "position" then
    local p = rawget(cel, "_position")
    return Point(p.x, p.y)
  end
  if k == "bounds" then
    local p, img = rawget(cel, "_position"), rawget(cel, "_image")
    local ts = rawget(rawget(cel, "layer"), "_tileset")
    if ts and img.colorMode == ColorMode.TILEMAP then
      local size = ts.grid.tileSize
      return Rectangle(p.x, p.y, img.width * size.width, img.height * size.height)
    end
    return Rectangle(p.x, p.y, img.width, img.height)
  end
  return nil
end
-- cel_class.cpp Cel_set_image: an Image -> the cel's image is replaced by a copy (cmd::ReplaceImage, undoable); nil
-- removes the cel (cmd::RemoveCel). Cel_set_position: convert_args_into_point, cmd::SetCelPosition (undoable).
CelMT.__newindex = function(cel, k, v)
  if k == "image" then
    if v == nil then
      edit("removeCel")
      rawget(cel, "layer").cels[rawget(cel, "frameNumber")] = nil
    else
      edit("replaceImage")
      rawset(cel, "_image", copy_image(v))
    end
  elseif k == "position" then
    edit("setCelPosition")
    local x, y = point_args(v)
    rawset(cel, "_position", Point(x, y))
  else
    rawset(cel, k, v)
  end
end

-- sprite_class.cpp Sprite_newCel(layer, frame, image, position): "frame index out of bounds" past the last frame; the
-- cel gets a copy of the image (Image::createCopy); a cel already in that layer and frame is replaced (clearCel, then
-- addCel).
function SpriteMT:newCel(l, f, image, pos)
  edit("newCel")
  local n = type(f) == "table" and f.frameNumber or f
  if not self.frames[n] then error("frame index out of bounds " .. tostring(n), 2) end
  local x, y = point_args(pos or Point(0, 0))
  local cel = setmetatable({ sprite = self, layer = l, frameNumber = n, _image = copy_image(image),
                             _position = Point(x, y) }, CelMT)
  l.cels[n] = cel
  return cel
end

-- sprite_class.cpp Sprite_setPalette(palette): sets the sprite's palette (an undoable edit).
function SpriteMT:setPalette(p)
  edit("setPalette")
  self.palettes[1] = p
end

-- sprite_class.cpp Sprite_deleteLayer(layer | name): cmd::RemoveLayer (undoable); "layer not found" when there is no
-- such layer, "the layer doesn't belong to the sprite" for another sprite's layer.
function SpriteMT:deleteLayer(l)
  local found
  for i, x in ipairs(self.layers) do
    if x == l or (type(l) == "string" and x.name == l) then found = i; break end
  end
  if not found then
    if type(l) == "table" and l.sprite ~= self then error("the layer doesn't belong to the sprite", 2) end
    error("layer not found", 2)
  end
  edit("deleteLayer")
  local gone = table.remove(self.layers, found)
  if app.activeLayer == gone then app.activeLayer = self.layers[math.min(found, #self.layers)] end
end

---------------------------------------------------------------------------------------------------------------
-- Tilesets and tiles (tileset_class.cpp, tile_class.cpp, grid_class.cpp; doc/tileset.h). A tileset holds images of
-- its grid's tile size; tile 0 is the empty tile, so user tiles start at 1 (api/tileset.md). A tilemap image
-- (ColorMode.TILEMAP) holds a tile index per pixel.
---------------------------------------------------------------------------------------------------------------
-- grid_class.cpp Grid: tileSize (a Size: width, height) and origin (a Point); simplified to a table.
local function grid(x, y, w, h)
  return { tileSize = { width = w, height = h }, origin = Point(x, y) }
end

local TilesetMT, TileMT = {}, {}
-- tileset_class.cpp Tileset_properties: name (Tileset_set_name: cmd::SetTilesetName, undoable), grid (read-only),
-- baseIndex; methods tile, getTile; other fields raise (luacpp.cpp).
TilesetMT.__index = function(ts, k)
  if k == "name" then return rawget(ts, "_name") end
  if k == "grid" then return rawget(ts, "_grid") end
  if k == "baseIndex" then return rawget(ts, "_baseIndex") end
  if TilesetMT[k] then return TilesetMT[k] end
  no_field(k)
end
-- tileset_class.cpp Tileset_set_name / Tileset_set_baseIndex: undoable commands; grid has no setter.
TilesetMT.__newindex = function(ts, k, v)
  if k == "name" then
    edit("setTilesetName")
    rawset(ts, "_name", tostring(v))
  elseif k == "baseIndex" then
    edit("setTilesetBaseIndex")
    rawset(ts, "_baseIndex", math.tointeger(v) or 0)
  else
    error("Cannot set field '" .. tostring(k) .. "'", 2)
  end
end
-- tileset_class.cpp Tileset_len: #tileset is its number of tiles, the empty tile 0 included.
TilesetMT.__len = function(ts) return #rawget(ts, "_images") end

-- doc::Tileset::makeEmptyTile: an image of the grid's tile size in the sprite's colour mode, cleared (transparent).
local function empty_tile(ts)
  local size = rawget(ts, "_grid").tileSize
  return Image(size.width, size.height, rawget(ts, "_sprite").colorMode)
end

-- doc::Tileset(sprite, grid, ntiles): ntiles empty tiles (the first is the empty tile 0), base index 1, no name.
local function tileset(sprite, g, ntiles)
  local ts = setmetatable({ _sprite = sprite, _grid = g, _name = "", _baseIndex = 1, _images = {} }, TilesetMT)
  for i = 1, ntiles do rawget(ts, "_images")[i] = empty_tile(ts) end
  return ts
end

local function push_tile(ts, ti) return setmetatable({ _ts = ts, _ti = ti }, TileMT) end

-- tileset_class.cpp Tileset_tile(index): the Tile at that index (0 is the empty tile), nil outside 0..#tileset-1.
function TilesetMT:tile(i)
  i = math.tointeger(i) or 0
  if i >= 0 and i < #self then return push_tile(self, i) end
  return nil
end
-- tileset_class.cpp Tileset_getTile(index): the tile's image (the tileset's own, not a copy), or nil.
function TilesetMT:getTile(i) return rawget(self, "_images")[(math.tointeger(i) or -1) + 1] end

-- tile_class.cpp Tile_properties: index (read-only) and image; Tile_get_image gives the tileset's own image
-- (push_tileset_image). Other fields raise (luacpp.cpp).
TileMT.__index = function(t, k)
  if k == "index" then return rawget(t, "_ti") end
  if k == "image" then return rawget(rawget(t, "_ts"), "_images")[rawget(t, "_ti") + 1] end
  no_field(k)
end
-- tile_class.cpp Tile_set_image: the tile's image is replaced by a copy of the given one (Image::createCopy,
-- cmd::ReplaceImage: undoable).
TileMT.__newindex = function(t, k, v)
  if k ~= "image" then error("Cannot set field '" .. tostring(k) .. "'", 2) end
  edit("replaceTileImage")
  rawget(rawget(t, "_ts"), "_images")[rawget(t, "_ti") + 1] = copy_image(v)
end

-- sprite_class.cpp Sprite_newTile(tileset [, index]) (since 822357869, v1.3-rc1): inserts an empty tile at `index`
-- (default: the end; below 1 raises "index must be equal to or greater than 1"), cmd::AddTile (undoable); returns
-- the Tile. A tileset of another sprite raises "the tileset belongs to another sprite".
function SpriteMT:newTile(ts, index)
  if getmetatable(ts) ~= TilesetMT then error("empty argument not allowed and must be a Tileset object", 2) end
  if rawget(ts, "_sprite") ~= self then error("the tileset belongs to another sprite", 2) end
  local ti = #ts
  if math.type(index) == "integer" then
    ti = index
    if ti < 1 then error("index must be equal to or greater than 1", 2) end
  end
  edit("addTile")
  table.insert(rawget(ts, "_images"), ti + 1, empty_tile(ts))
  return push_tile(ts, ti)
end

-- sprite_class.cpp Sprite_newTileset([grid | rectangle [, ntiles]]) (since c299be50a, v1.3-rc1): a new tileset of
-- the rectangle's size (a table at v1.3-rc5; HEAD also takes a Rectangle object; an origin other than 0,0 raises at
-- HEAD), ntiles tiles (default 1); cmd::AddTileset (undoable). Without arguments: the sprite's grid size.
function SpriteMT:newTileset(r, ntiles)
  local x, y, w, h
  if r == nil then
    local b = rawget(self, "_gridBounds")
    x, y, w, h = 0, 0, b.width, b.height
  elseif type(r) == "table" and r.tileSize then
    x, y, w, h = r.origin.x, r.origin.y, r.tileSize.width, r.tileSize.height
  elseif type(r) == "table" then
    x, y, w, h = rect_args(r)
  else
    error("grid or table expected", 2)
  end
  if ntiles ~= nil and (math.type(ntiles) ~= "integer" or ntiles <= 0) then
    error("ntiles field must be an integer greater than 0", 2)
  end
  edit("addTileset")
  local ts = tileset(self, grid(x, y, w, h), ntiles or 1)
  self.tilesets[#self.tilesets + 1] = ts
  return ts
end

-- sprite_class.cpp Sprite_deleteTileset(tileset | index) (since c299be50a, v1.3-rc1): tilemap layers using it get
-- tileset 0 (cmd::SetLayerTileset), then cmd::RemoveTileset (undoable); "tileset not found" otherwise.
function SpriteMT:deleteTileset(ts)
  local at
  for i, x in ipairs(self.tilesets) do if x == ts or i - 1 == ts then at = i end end
  if not at then error("tileset not found", 2) end
  edit("removeTileset")
  local gone = table.remove(self.tilesets, at)
  for _, l in ipairs(self.layers) do
    if rawget(l, "_tileset") == gone then rawset(l, "_tileset", self.tilesets[1]) end
  end
end

---------------------------------------------------------------------------------------------------------------
-- app.command (app_command_object.cpp): app.command.<Id>{ params } runs a command on the active document; an
-- unknown id raises "command '<id>' not found". CommandWithNewParams::loadParamsFromLuaTable (new_params.cpp) reads
-- only the params the command declares: others are ignored. Context::executeCommand (context.cpp) resets the result
-- to kOk and runs nothing when the command is disabled, so the call then still returns true.
---------------------------------------------------------------------------------------------------------------
local commands = {}

-- cmd_new_layer.cpp NewLayerCommand (onEnabled: an active, writable sprite): params name (default "Layer N"),
-- tilemap, gridBounds (since 6cbde5747, v1.3-rc3; before it ignored), ...; a tilemap layer gets a new tileset
-- (cmd::AddTileset) of one empty tile whose grid is gridBounds, or, when that is empty or not given, the active
-- site's grid (simplified to the sprite's gridBounds), base index 1; the layer goes after the active layer. The new
-- layer is the active one afterwards (tests/scripts/tilemap.lua reads it as app.layer). Inside app.transaction the
-- command's Tx joins the script's transaction (the comment on showTooltip in cmd_new_layer.cpp).
function commands.NewLayer(p)
  local sprite = app.activeSprite
  if not sprite then return end
  local name = type(p.name) == "string" and p.name or ("Layer " .. (#sprite.layers + 1))
  local ts
  if p.tilemap then
    local b = rawget(sprite, "_gridBounds")
    if p.gridBounds ~= nil and stub.api_version >= 23 then
      local x, y, w, h = rect_args(p.gridBounds)
      if w > 0 and h > 0 then b = Rectangle(x, y, w, h) end
    end
    edit("addTileset")
    ts = tileset(sprite, grid(b.x, b.y, b.width, b.height), 1)
    sprite.tilesets[#sprite.tilesets + 1] = ts
  end
  edit("newLayer")
  local l = layer(sprite, name, ts)
  local at = #sprite.layers + 1
  for i, x in ipairs(sprite.layers) do if x == app.activeLayer then at = i + 1 end end
  table.insert(sprite.layers, at, l)
  app.activeLayer = l
end

-- app_command_object.cpp AppCommand_index / Command_call (see the section's comment).
app.command = setmetatable({}, { __index = function(_, id)
  local run = commands[id]
  if not run then error("command '" .. tostring(id) .. "' not found", 2) end
  return function(p)
    if not stub.disabled_commands[id] then run(type(p) == "table" and p or {}) end
    return true
  end
end })

---------------------------------------------------------------------------------------------------------------
-- GraphicsContext of a canvas onpaint event (graphics_context.cpp): width, height, antialias, color,
-- drawImage(image, srcRect, dstRect) or drawImage(image, x, y), strokeRect, fillRect. Records the calls.
---------------------------------------------------------------------------------------------------------------
local function graphics(w, h)
  local gc = { width = w, height = h, antialias = false, color = Color{ r = 0, g = 0, b = 0 }, drawn = {} }
  function gc:drawImage(img, a, b, c)
    if type(a) == "number" then
      a, b = Rectangle(0, 0, img.width, img.height), Rectangle(a, b, img.width, img.height)
    end
    self.drawn[#self.drawn + 1] = { image = img, src = a, dst = b, antialias = self.antialias }
  end
  function gc:strokeRect(r) self.stroked = (self.stroked or 0) + 1 end
  function gc:fillRect(r) self.filled = (self.filled or 0) + 1 end
  return gc
end

---------------------------------------------------------------------------------------------------------------
-- Dialog (dialog_class.cpp)
---------------------------------------------------------------------------------------------------------------
local DialogMT = {}

-- dialog_class.cpp Dialog_connect_signal: a widget's callback runs only while the dialog is shown (dlg->showRef, set
-- by show() and cleared on close); it gets an event table; an error inside is caught (lua_pcall) and printed to the
-- console.
local function signal(dlg, fn, ev)
  if not fn or not dlg._shown then return end
  local ok, err = pcall(fn, ev or {})
  if not ok then console(err) end
end

-- dialog_class.cpp Dialog_get_data: one field per widget with a string id: button/check/radio -> boolean (selected,
-- or the button that closed the dialog, or the last button clicked: dlg->lastButton), entry -> text, label -> its
-- text (!), number -> integer when decimals == 0 (the default, expr_entry.cpp) else a float, slider -> integer,
-- combobox -> the selected item's text or nil, file -> the full file name (FilenameField::fullFilename, always a
-- path), separator -> nothing, anything else (canvas) -> nil.
local function data(d)
  local out = {}
  for id, w in pairs(d._w) do
    local k = w.kind
    if k == "button" or k == "check" or k == "radio" then
      out[id] = (w.selected == true) or d._lastButton == w
    elseif k == "entry" or k == "label" then out[id] = w.text or ""
    elseif k == "number" then
      local n = tonumber(w.text) or 0
      if (w.decimals or 0) == 0 then out[id] = math.tointeger(n) or math.floor(n + 0.5) else out[id] = n + 0.0 end
    elseif k == "slider" then out[id] = math.tointeger(w.value) or 0
    elseif k == "combobox" then out[id] = w.options[w.selected]
    elseif k == "file" then out[id] = w.filename
    end
  end
  return out
end

-- dialog_class.cpp Dialog_properties: `data` is computed on each read (Dialog_get_data); methods otherwise.
DialogMT.__index = function(d, k)
  if k == "data" then return data(d) end
  return DialogMT[k]
end

-- dialog_class.cpp Dialog_new: Dialog{ title=, onclose= } or Dialog(title).
function Dialog(t)
  t = type(t) == "string" and { title = t } or (t or {})
  local d = setmetatable({ title = t.title, onclose = t.onclose, _w = {}, _order = {}, visible = false,
                           _shown = false }, DialogMT)
  stub.dialogs[#stub.dialogs + 1] = d
  return d
end

-- dialog_class.cpp Dialog_add_widget: a widget with a string `id` goes into dataWidgets (Dialog.data);
-- `enabled`/`visible` flags.
local function add(d, kind, t)
  t = t or {}
  local w = {}
  for k, v in pairs(t) do w[k] = v end
  w.kind = kind
  if w.enabled == nil then w.enabled = true end
  if w.visible == nil then w.visible = true end
  local id = type(t.id) == "string" and t.id or (kind .. "#" .. (#d._order + 1))
  w.id = id
  d._w[id] = w
  d._order[#d._order + 1] = id
  return d, w
end

-- ComboBox::setSelectedItemIndex (src/ui/combobox.cpp): a valid index different from the current one selects it
-- and emits Change, which calls the combobox's onchange.
local function combo_select(d, w, index)
  if index >= 1 and index <= #w.options and w.selected ~= index then
    w.selected = index
    signal(d, w.onchange)
  end
end

local function find_option(w, text)
  for i, o in ipairs(w.options) do if o == text then return i end end
  return nil
end

-- FilenameField::setFilename (filename_field.cpp) with editFullPath off and no sprite folder: the value is the
-- folder plus the name; every change emits Change (the file widget's onchange).
local function dirname(p) return p:match("^(.*)/[^/]*$") or "" end
local function basename(p) return p:match("[^/]*$") end
local function join_path(a, b)  -- base::join_path (laf base/fs.cpp): adds "/" unless a is empty or ends in one
  if a ~= "" and a:sub(-1) ~= "/" then a = a .. "/" end
  return a .. b
end
local function file_set(d, w, full)
  w.filename = join_path(dirname(full), basename(full))
  signal(d, w.onchange)
end

for _, k in ipairs{ "label", "button", "check", "radio", "entry", "slider", "canvas", "separator", "color",
                    "shades" } do
  DialogMT[k] = function(d, t) return (add(d, k, t)) end
end
-- dialog_class.cpp Dialog_newrow: layout only.
function DialogMT:newrow() return self end

-- dialog_class.cpp Dialog_number: an ExprEntry; decimals default 0.
function DialogMT:number(t)
  local d, w = add(self, "number", t)
  w.text = t and t.text and tostring(t.text) or ""
  w.decimals = t and t.decimals or 0
  return d
end

-- dialog_class.cpp Dialog_combobox: adds the options (a first item added to a non-editable combobox is selected:
-- addItem), then selects `option` only when it is one of them; onchange is connected afterwards, so building fires
-- nothing.
function DialogMT:combobox(t)
  local d, w = add(self, "combobox", t)
  w.options = {}
  for _, o in ipairs(t.options or {}) do if type(o) == "string" or type(o) == "number" then
    w.options[#w.options + 1] = tostring(o) end end
  w.selected = #w.options > 0 and 1 or nil
  if type(t.option) == "string" then w.selected = find_option(w, t.option) or w.selected end
  w.option = nil
  return d
end

-- dialog_class.cpp Dialog_file: `filename` (default ""), `save`, `entry` (any boolean, even false, makes an entry
-- field: `type == LUA_TBOOLEAN`), `filetypes` (a name without extension gets the first), `basepath`; the folder is
-- basepath, else the filename's folder, else the active sprite's file folder, else the current path; the value is
-- join_path(folder, file name of `filename`): a full path from the start, with no user action.
function DialogMT:file(t)
  local d, w = add(self, "file", t)
  w.entry = type(t.entry) == "boolean"
  w.save = t.save == true
  local fn = t.filename or ""
  local exts = t.filetypes or {}
  if fn ~= "" and not basename(fn):find("%.") and exts[1] then fn = fn .. "." .. exts[1] end
  local path = t.basepath or dirname(fn)
  if path == "" then
    local doc = app.activeSprite and app.activeSprite.filename or ""
    path = dirname(doc)
    if path == "" then path = stub.current_path end
  end
  w.filename = join_path(path, basename(fn))
  return d
end

-- dialog_class.cpp Dialog_modify: an unknown id raises; then, per field present: enabled, selected, visible, text
-- (any widget), label, decimals, value (slider), options (ComboBox::deleteAllItems, then addItem each: the first one
-- added gets selected, which emits Change -> onchange; no options -> no selection), option (selected only when it is
-- one of the options and not already selected, which emits Change; an unknown option is ignored), filename (file
-- widget: setFilename, which emits Change).
function DialogMT:modify(t)
  if t.id == nil then
    if t.title or t.text then self.title = t.title or t.text end
    return self
  end
  local w = self._w[t.id]
  if not w then error('Given id="' .. tostring(t.id) .. '" in Dialog:modify{} not found in dialog', 2) end
  if t.enabled ~= nil then w.enabled = t.enabled and true or false end
  if t.selected ~= nil then w.selected = t.selected and true or false end
  if t.visible ~= nil then w.visible = t.visible and true or false end
  if t.text ~= nil then w.text = tostring(t.text) end
  if t.label ~= nil then w.label = tostring(t.label) end
  if t.decimals ~= nil then w.decimals = t.decimals end
  if t.value ~= nil and w.kind == "slider" then w.value = math.tointeger(t.value) or 0 end
  if type(t.options) == "table" and w.kind == "combobox" then
    w.options, w.selected = {}, nil
    for _, o in ipairs(t.options) do
      if type(o) == "string" or type(o) == "number" then
        w.options[#w.options + 1] = tostring(o)
        if #w.options == 1 then combo_select(self, w, 1) end
      end
    end
  end
  if type(t.option) == "string" and w.kind == "combobox" then
    local i = find_option(w, t.option)
    if i then combo_select(self, w, i) end
  end
  if t.filename ~= nil and w.kind == "file" then file_set(self, w, tostring(t.filename)) end
  return self
end

-- dialog_class.cpp Dialog_show{ wait=false }: shows the dialog and keeps it alive (refShow), so its callbacks run
-- from now on.
function DialogMT:show(t)
  self.visible = true
  self._shown = true
  self.wait = t and t.wait
  return self
end

-- dialog_class.cpp Dialog_close: closeWindow -> the Close signal runs onclose, then unrefShow: no callback runs
-- afterwards.
function DialogMT:close()
  if self.visible then
    self.visible = false
    signal(self, self.onclose)
  end
  self._shown = false
  return self
end

-- dialog_class.cpp Dialog_repaint: every canvas's onpaint, with a fresh GraphicsContext (errors go to the console).
function DialogMT:repaint()
  for _, id in ipairs(self._order) do
    local w = self._w[id]
    if w.kind == "canvas" then
      w.gc = graphics(w.width or 0, w.height or 0)
      signal(self, w.onpaint, { context = w.gc })
    end
  end
end

-- User actions (not Aseprite API). Each runs like a UI event and then lets the event loop run (stub.pump).
-- dialog_class.cpp Dialog_button_base: clicking a button makes it dlg->lastButton (so Dialog.data says true for it),
-- then runs onclick; a button without onclick closes the dialog.
function DialogMT:_click(id)
  local w = assert(self._w[id], "no widget " .. id)
  assert(w.enabled and w.visible, id .. " is disabled or hidden")
  assert(self._shown, "the dialog is not shown")
  if w.kind == "button" then self._lastButton = w end
  if w.kind == "check" or w.kind == "radio" then w.selected = not w.selected end
  if w.onclick then signal(self, w.onclick) else self:close() end
  stub.pump()
end
-- User action (not Aseprite API): the user picks an option from a combobox's list (src/ui/combobox.cpp
-- ComboBox::setSelectedItemIndex: onchange when it changes).
function DialogMT:_choose(id, option)
  local w = assert(self._w[id], "no widget " .. id)
  combo_select(self, w, assert(find_option(w, option), "no option " .. tostring(option)))
  stub.pump()
end
-- User action (not Aseprite API): the user types into an entry/number (its onchange runs) or into a file widget's
-- entry (filename_field.cpp: only with entry=true; the value becomes the folder + the typed name).
function DialogMT:_type(id, text)
  local w = assert(self._w[id], "no widget " .. id)
  if w.kind == "file" then
    assert(w.entry, "this file widget has no entry field (entry=true): the user cannot type a name")
    file_set(self, w, text:sub(1, 1) == "/" and text or join_path(dirname(w.filename), text))
  else
    w.text = tostring(text)
    signal(self, w.onchange)
  end
  stub.pump()
end
-- User action (not Aseprite API): the user picks a file with the file widget's button (filename_field.cpp
-- FilenameField::onBrowse -> setFilename -> onchange).
function DialogMT:_browse(id, path)
  local w = assert(self._w[id], "no widget " .. id)
  file_set(self, w, path)
  stub.pump()
end
-- User action (not Aseprite API): tick a check (its onclick runs).
function DialogMT:_check(id, on) self._w[id].selected = on and true or false; signal(self, self._w[id].onclick) end
-- User action (not Aseprite API): move a slider (its onchange runs).
function DialogMT:_slide(id, v) self._w[id].value = v; signal(self, self._w[id].onchange) end
-- User action (not Aseprite API): a click on a canvas (Canvas onmousedown with x, y, button).
function DialogMT:_mousedown(id, x, y)
  signal(self, self._w[id].onmousedown, { x = x, y = y, button = 1 })
  stub.pump()
end
-- Test helper (not Aseprite API): raw widget state for a test's set-up (no event).
function DialogMT:_set(id, field, value)
  local w = self._w[id]
  if w.kind == "combobox" and field == "option" then w.selected = assert(find_option(w, value))
  else w[field] = value end
end

---------------------------------------------------------------------------------------------------------------
-- WebSocket (websocket_class.cpp over IXWebSocket)
---------------------------------------------------------------------------------------------------------------
local WebSocketMT = {}
WebSocketMT.__index = WebSocketMT

-- websocket_class.cpp WebSocket_new{ url=, onreceive=, deflate=, minreconnectwait=, maxreconnectwait= }: first asks
-- for the network permission (ask_access OpenSocket, since 6e84bb544 / v1.2.30) and raises "the script doesn't have
-- access to create a WebSocket for '<url>'" when refused. Without onreceive a no-op handler is set.
function WebSocket(t)
  t = t or {}
  if t.url and not ask_access("socket", t.url) then
    error("the script doesn't have access to create a WebSocket for '" .. t.url .. "'", 2)
  end
  local ws = setmetatable({ url = t.url, onreceive = t.onreceive or function() end, sent = {}, state = "closed",
                            deflate = t.deflate, minreconnectwait = t.minreconnectwait,
                            maxreconnectwait = t.maxreconnectwait }, WebSocketMT)
  stub.sockets[#stub.sockets + 1] = ws
  return ws
end

-- onMessageCallback -> ui::execute_from_ui_thread: onreceive(type, data[, error]) runs later from the event loop,
-- inside lua_pcall; an error raised in it is printed to the console and the socket is stopped for good
-- (ws->stop(): no more messages, no reconnection).
local function deliver(ws, kind, payload, err)
  stub.queue[#stub.queue + 1] = function()
    local ok, e
    if stub.onreceive_error_arg then ok, e = pcall(ws.onreceive, kind, payload or "", err or "")
    else ok, e = pcall(ws.onreceive, kind, payload or "") end
    if not ok then
      console(e)
      ws.state = "stopped"
    end
  end
end

-- websocket_class.cpp WebSocket_connect -> ix start(): a thread tries to connect; the outcome arrives later (server
-- actions below). Starting twice does nothing (IXWebSocket::start: "we've already been started").
function WebSocketMT:connect()
  if self.state == "closed" then self.state = "connecting" end
end

-- websocket_class.cpp WebSocket_close -> ix stop(): close() sends a close frame if open; the CLOSE event comes when
-- the close handshake completes (IXWebSocket's onCloseCallback), through the UI queue like every event; stop() also
-- ends the automatic reconnection. A socket that is not open gets no CLOSE. api/websocket.md: "After a disconnect,
-- onreceive function will be called with message type WebSocketMessageType.CLOSE".
function WebSocketMT:close()
  if self.state == "open" then
    self.state = "closing"
    if stub.auto_close_reply then self:_close_reply(true) end
  elseif self.state ~= "closing" then
    self.state = "stopped"
  end
end

-- websocket_class.cpp WebSocket_sendText: raises "WebSocket is not connected, can't send text" unless the socket is
-- open (ws->getReadyState() != Open); joins its arguments.
function WebSocketMT:sendText(...)
  if self.state ~= "open" then error("WebSocket is not connected, can't send text", 2) end
  self.sent[#self.sent + 1] = table.concat({ ... })
end

-- Server / network actions (not Aseprite API), each followed by the event loop:
-- the server accepts the connection: OPEN (IXWebSocket.cpp WebSocket::connect, not Aseprite API).
function WebSocketMT:_open()
  assert(self.state == "connecting", "the socket is not trying to connect (" .. self.state .. ")")
  self.state = "open"
  deliver(self, WebSocketMessageType.OPEN, "")
  stub.pump()
end
-- Network action (not Aseprite API). No server: IXWebSocket.cpp checkConnection reports each failed try as an ERROR
-- with errorInfo.reason (third onreceive argument) and, with automatic reconnection (the default), tries again later.
-- Never a CLOSE.
function WebSocketMT:_refuse(reason)
  assert(self.state == "connecting", "the socket is not trying to connect (" .. self.state .. ")")
  deliver(self, WebSocketMessageType.ERROR, "",
    reason or "Unable to connect to 127.0.0.1 on port 8737, error: Connection refused")
  stub.pump()
end
-- Server action (not Aseprite API): a text frame (TEXT, data = the frame; IXWebSocket.cpp run/dispatch). Returns
-- false when the socket cannot receive.
function WebSocketMT:_text(s)
  if self.state ~= "open" then return false end
  deliver(self, WebSocketMessageType.TEXT, s)
  stub.pump()
  return true
end
-- Server action (not Aseprite API). The server goes away while connected (IXWebSocket.cpp onCloseCallback): CLOSE,
-- then the client keeps trying to reconnect (connecting). The ready state changes at once on the network thread, the
-- CLOSE event waits for the UI thread: with `queued_only` the event stays queued (sendText already raises meanwhile).
function WebSocketMT:_drop(queued_only)
  assert(self.state == "open", "the socket is not open")
  self.state = "connecting"
  deliver(self, WebSocketMessageType.CLOSE, "")
  if not queued_only then stub.pump() end
end
-- Server action (not Aseprite API): the server answers our close frame: the CLOSE event of a close() (queued; pumped
-- unless `queued_only`).
function WebSocketMT:_close_reply(queued_only)
  assert(self.state == "closing", "the socket is not closing")
  self.state = "stopped"
  deliver(self, WebSocketMessageType.CLOSE, "")
  if not queued_only then stub.pump() end
end
-- Test helper (not Aseprite API): the last frame sent, decoded to plain Lua values for assertions.
function WebSocketMT:_last() return stub.plain(json.decode(self.sent[#self.sent])) end

---------------------------------------------------------------------------------------------------------------
-- Plugin preferences (plugin_class.cpp, extensions.cpp serialize_table): plugin.preferences is a plain table saved
-- to __pref.lua on exit by serialize_table (string keys as `k=` or ["k"]=, number keys positional, booleans,
-- numbers via lua_tostring, strings escaped, tables recursively, anything else -> nil) and loaded back next
-- session. stub.reload_preferences(t) returns what the next session would see.
---------------------------------------------------------------------------------------------------------------
local function serialize(t, out)
  out[#out + 1] = "{"
  local first = true
  for k, v in next, t do
    if not first then out[#out + 1] = "," end
    first = false
    if type(k) == "string" then
      if k:match("^[%a_][%w_]*$") then out[#out + 1] = k .. "=" else out[#out + 1] = '["' .. k .. '"]=' end
    end
    local tv = type(v)
    if tv == "boolean" then out[#out + 1] = tostring(v)
    elseif tv == "number" then out[#out + 1] = tostring(v)
    elseif tv == "string" then
      out[#out + 1] = '"' .. v:gsub('[\\"\t\r\n]', { ["\\"] = "\\\\", ['"'] = '\\"', ["\t"] = "\\t", ["\r"] = "\\n",
                                                  ["\n"] = "\\n" }) .. '"'
    elseif tv == "table" then serialize(v, out)
    else out[#out + 1] = "nil" end
  end
  out[#out + 1] = "}"
  return out
end
-- Test helper (not Aseprite API): the preferences the next session loads.
function stub.reload_preferences(t)
  return assert(load("return " .. table.concat(serialize(t, {}))))()
end

stub.reset()
return stub
