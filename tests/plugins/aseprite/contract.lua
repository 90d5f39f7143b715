-- Contract driver: the extension's own Lua builds request frames and reads the server's answers.
--   lua5.4 contract.lua requests MODEL RGBA_FILE W H  -> one JSON request frame per line on stdout
--   lua5.4 contract.lua answers ANSWERS_FILE OUT_DIR -> for each sprite answer, OUT_DIR/<id>-<i>.rgba holds the bytes
--                                                      of the Aseprite Image the extension made from it
--   lua5.4 contract.lua dialog HELLO MODELS MODEL [ANSWERS OUT_DIR]
--       the Generate Sprite dialog itself, on the double's socket fed the server's real hello and models answers:
--       without ANSWERS, prints the generate frame the dialog sends (count 2, seed 4, steps 4); with ANSWERS (the
--       server's answers to that frame, one per line), feeds them to the dialog and writes what its preview canvas
--       drew after each one: OUT_DIR/<n>-<i>.rgba (n: the answer's line number), printing "<n>\t<type>\t<images>"
--   lua5.4 contract.lua repaint HELLO MODELS MODEL RGBA_FILE W H RECTS [ANSWERS OUT_DIR PICK]
--       Repaint Selection on a W x H sprite whose active cel holds RGBA_FILE, selection RECTS ("x,y,w,h+x,y,w,h..."),
--       the double's socket fed the server's hello and models: prints "models\t<the dialog's model list>", then the
--       inpaint frame it sends (count 3, seed 7, steps 6, temperature 0.9, the chosen MODEL); with ANSWERS, feeds
--       them, writes what the preview grid drew after each to OUT_DIR/<n>-<i>.rgba ("<n>\t<type>\t<images>"),
--       clicks candidate PICK, presses Apply and writes the cel, at the sprite's size, to OUT_DIR/cel.rgba
--       ("applied\t<transactions>\t<status>")
--   lua5.4 contract.lua tiles HELLO MODELS MODEL [ANSWERS OUT_DIR]
--       Generate Sprite with a tile model (issue 19), the double's socket fed the server's hello and models: prints
--       "insert\t<Insert as>" (a tile model selects New tilemap) and the generate frame (count 3, seed 4); with
--       ANSWERS, feeds them and, after the result, prints "drawn\t<draws>\t<copies of each tile>" (each tile is
--       drawn 3x3, byte for byte the server's), presses Insert and writes the new tileset's tiles 1.. to
--       OUT_DIR/tile-<i>.rgba, printing "tilemap\t<#tileset>\t<tile w>x<h>\t<the map's tile indices>"
-- Everything runs under the test double of Aseprite's API (stub/, rebuilt from Aseprite's source): the server's
-- answers reach the extension as Aseprite's json.decode proxies (userdata, float numbers), and the extension's
-- requests are encoded by the double's json.encode, which writes what Aseprite's json11 writes.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local stub = assert(loadfile(here .. "stub/aseprite.lua"))(here .. "stub")
package.path = here .. "../../../plugins/aseprite/?.lua;" .. package.path
local protocol = require("protocol")
local document = require("document")

local mode = arg[1]
if mode == "requests" then
  local model, rgba_file, w, h = arg[2], arg[3], tonumber(arg[4]), tonumber(arg[5])
  local f = assert(io.open(rgba_file, "rb"))
  local bytes = f:read("a")
  f:close()
  local image = protocol.rgba_image(bytes, w, h)
  local frames = {
    protocol.hello("hello"),
    protocol.models("models"),
    protocol.generate({ model = model, count = 3, seed = 7 }, "gen"),
    protocol.generate({ model = model, count = 2, seed = 11, palette = { "#000000", "#ffffff", "#ff0000" } }, "pal"),
    protocol.variations(image, { model = model, count = 2, seed = 3, strength = 0.5 }, "var"),
    protocol.interpolate(7, image, { model = model, count = 4, method = "lerp" }, "int"),
    protocol.generate({ model = model, label = "nope" }, "bad"),
    protocol.generate({ model = model, count = 2, seed = 5, despeckle = true, outline = "darkest",
                        palette = "pico-8", dither = "bayer2" }, "clean"),
    protocol.palette({ model = model, count = 8, seed = 7, colors = 4, format = "gpl", name = "p" }, "palette"),
  }
  for _, m in ipairs(frames) do print(protocol.encode(m)) end
elseif mode == "dialog" then
  local connection = require("connection")
  local dialogs = require("dialogs")
  local function read(path)
    local f = assert(io.open(path, "rb"))
    local text = f:read("a")
    f:close()
    return text
  end
  local conn = connection.new{ url = "ws://127.0.0.1:8737" }
  conn:connect()
  local ws = stub.sockets[#stub.sockets]
  ws:_open()
  local function answer(text)  -- a server answer, addressed to the request the extension sent last
    local msg = json.decode(text)
    msg.id = ws:_last().id
    ws:_text(json.encode(msg))
  end
  answer(read(arg[2]))                        -- hello
  local dlg = dialogs.generate{ conn = conn, prefs = {}, palettes = {} }
  answer(read(arg[3]))                        -- models
  dlg:_choose("model", arg[4])                -- the user picks the model, types the numbers, presses Generate
  dlg:_type("count", "2")
  dlg:_type("seed", "4")
  dlg:_type("steps", "4")
  dlg:_click("generate")
  assert(#stub.console == 0, stub.console[1])
  local sent = ws.sent[#ws.sent]
  if not arg[5] then
    print(sent)
  else
    local id, n = json.decode(sent).id, 0
    for line in io.lines(arg[5]) do
      n = n + 1
      local msg = json.decode(line)
      msg.id = id
      ws:_text(json.encode(msg))
      local drawn = dlg._w.preview.gc.drawn
      for i, d in ipairs(drawn) do
        local f = assert(io.open(string.format("%s/%d-%d.rgba", arg[6], n, i), "wb"))
        f:write(d.image.bytes)
        f:close()
        assert(not d.antialias and d.dst.width % d.src.width == 0)
      end
      print(n .. "\t" .. msg.type .. "\t" .. #drawn)
    end
    assert(#stub.console == 0, stub.console[1])
  end
elseif mode == "repaint" then
  local connection = require("connection")
  local dialogs = require("dialogs")
  local function read(path)
    local f = assert(io.open(path, "rb"))
    local text = f:read("a")
    f:close()
    return text
  end
  local w, h = math.tointeger(tonumber(arg[6])), math.tointeger(tonumber(arg[7]))
  local sprite = Sprite(w, h, ColorMode.RGB)
  local img = Image(w, h, ColorMode.RGB)
  img.bytes = read(arg[5])
  app.activeCel = sprite:newCel(sprite.layers[1], 1, img, Point(0, 0))
  local sel = Selection()
  for x, y, rw, rh in arg[8]:gmatch("(%d+),(%d+),(%d+),(%d+)") do
    sel:add(Rectangle(tonumber(x), tonumber(y), tonumber(rw), tonumber(rh)))
  end
  sprite.selection = sel
  local conn = connection.new{ url = "ws://127.0.0.1:8737" }
  conn:connect()
  local ws = stub.sockets[#stub.sockets]
  ws:_open()
  local function answer(text)
    local msg = json.decode(text)
    msg.id = ws:_last().id
    ws:_text(json.encode(msg))
  end
  answer(read(arg[2]))                        -- hello
  local dlg = dialogs.repaint{ conn = conn, prefs = {}, palettes = {} }
  answer(read(arg[3]))                        -- models
  print("models\t" .. table.concat(dlg._w.model.options, ","))
  dlg:_choose("model", arg[4])
  dlg:_type("count", "3")
  dlg:_type("seed", "7")
  dlg:_type("steps", "6")
  dlg:_type("temperature", "0.9")
  dlg:_click("generate")
  assert(#stub.console == 0, stub.console[1])
  local sent = ws.sent[#ws.sent]
  print(sent)
  if arg[9] then
    local id, n = json.decode(sent).id, 0
    for line in io.lines(arg[9]) do
      n = n + 1
      local msg = json.decode(line)
      msg.id = id
      ws:_text(json.encode(msg))
      local drawn = dlg._w.preview.gc.drawn
      for i, d in ipairs(drawn) do
        local f = assert(io.open(string.format("%s/%d-%d.rgba", arg[10], n, i), "wb"))
        f:write(d.image.bytes)
        f:close()
      end
      print(n .. "\t" .. msg.type .. "\t" .. #drawn)
    end
    local d = dlg._w.preview.gc.drawn[math.tointeger(tonumber(arg[11]))]
    dlg:_mousedown("preview", d.dst.x + 1, d.dst.y + 1)
    dlg:_click("apply")
    local f = assert(io.open(arg[10] .. "/cel.rgba", "wb"))
    f:write(assert(document.cel_rgba(sprite.layers[1]:cel(1), w, h, Point(0, 0))))
    f:close()
    print("applied\t" .. #stub.transactions .. "\t" .. dlg._w.status.text)
    assert(#stub.console == 0, stub.console[1])
  end
elseif mode == "tiles" then
  local connection = require("connection")
  local dialogs = require("dialogs")
  local function read(path)
    local f = assert(io.open(path, "rb"))
    local text = f:read("a")
    f:close()
    return text
  end
  local conn = connection.new{ url = "ws://127.0.0.1:8737" }
  conn:connect()
  local ws = stub.sockets[#stub.sockets]
  ws:_open()
  local function answer(text)  -- a server answer, addressed to the request the extension sent last
    local msg = json.decode(text)
    msg.id = ws:_last().id
    ws:_text(json.encode(msg))
  end
  answer(read(arg[2]))                        -- hello
  local dlg = dialogs.generate{ conn = conn, prefs = {}, palettes = {} }
  answer(read(arg[3]))                        -- models
  dlg:_choose("model", arg[4])
  dlg:_type("count", "3")
  dlg:_type("seed", "4")
  dlg:_click("generate")
  assert(#stub.console == 0, stub.console[1])
  local sent = ws.sent[#ws.sent]
  if not arg[5] then
    print("insert\t" .. dlg.data.insert)
    print(sent)
  else
    local id = json.decode(sent).id
    local result
    for line in io.lines(arg[5]) do
      local msg = json.decode(line)
      msg.id = id
      ws:_text(json.encode(msg))
      if msg.type == "result" then result = assert(protocol.decode(line)) end
    end
    local images = assert(protocol.images(assert(result, "no result")))
    local drawn, copies = dlg._w.preview.gc.drawn, {}
    for k, d in ipairs(drawn) do
      local i = (k - 1) // 9 + 1
      assert(d.image.bytes == images[i].bytes, "copy " .. k .. " is not tile " .. i)
      copies[i] = (copies[i] or 0) + 1
    end
    print("drawn\t" .. #drawn .. "\t" .. table.concat(copies, ","))
    dlg:_click("insert_button")
    local layer = app.activeSprite.layers[1]
    local ts, map = layer.tileset, layer:cel(1).image
    for i = 1, #ts - 1 do
      local f = assert(io.open(string.format("%s/tile-%d.rgba", arg[6], i), "wb"))
      f:write(document.rgba(ts:tile(i).image))
      f:close()
    end
    local indices = {}
    for y = 0, map.height - 1 do for x = 0, map.width - 1 do indices[#indices + 1] = map:getPixel(x, y) end end
    local size = ts.grid.tileSize
    print(string.format("tilemap\t%d\t%dx%d\t%s", #ts, size.width, size.height, table.concat(indices, ",")))
    assert(#stub.console == 0, stub.console[1])
  end
elseif mode == "answers" then
  local out_dir = arg[3]
  for line in io.lines(arg[2]) do
    assert(stub.is_proxy(json.decode(line)), "the double's json.decode must give Aseprite's proxies")
    local msg = assert(protocol.decode(line))
    if msg.type == "error" then
      print(msg.id .. "\terror\t" .. (protocol.explain(msg):gsub("\n", " ")))
    elseif msg.op == "hello" then
      print(msg.id .. "\thello\t" .. tostring(protocol.check_hello(msg)))
    elseif msg.op == "palette" then
      Sprite(4, 4, ColorMode.RGB)
      local pal = document.set_palette(app.activeSprite, msg.colors)
      local f = assert(io.open(out_dir .. "/palette.gpl", "wb"))
      f:write(assert(require("b64").decode(msg.file)))
      f:close()
      print(msg.id .. "\tpalette\t" .. table.concat(document.palette_hexes(app.activeSprite), ",") .. "\t" .. #pal)
    elseif msg.images then
      local images = assert(protocol.images(msg))
      for i, im in ipairs(images) do
        local img = document.image(im)  -- an Aseprite Image, as the dialog inserts it
        local f = assert(io.open(string.format("%s/%s-%d.rgba", out_dir, msg.id, i), "wb"))
        f:write(img.bytes)
        f:close()
      end
      print(msg.id .. "\timages\t" .. #images)
    else
      print(msg.id .. "\t" .. msg.type)
    end
  end
  assert(stub)
end
