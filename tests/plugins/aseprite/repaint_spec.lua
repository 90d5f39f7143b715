-- busted specs for Repaint Selection (inpainting with a pixel model) and the sampler's temperature, against the test
-- double of Aseprite's API in stub/ (rebuilt from Aseprite's source: Selection from selection_class.cpp and
-- doc/mask.h, Cel.image / Cel.position from cel_class.cpp, Sprite.selection and Sprite:newCel from sprite_class.cpp).
-- Run from the repository root: busted tests/plugins/aseprite
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local STUB_DIR = here .. "stub"
local ROOT = here .. "../../../plugins/aseprite/"
package.path = ROOT .. "?.lua;" .. package.path

local stub = assert(loadfile(STUB_DIR .. "/aseprite.lua"))(STUB_DIR)
local b64 = require("b64")
local protocol = require("protocol")
local connection = require("connection")
local document = require("document")
local dialogs = require("dialogs")

local WHITE, BLACK = "\255\255\255\255", "\0\0\0\255"

local function rgba(w, h, fn)
  local t = {}
  for y = 0, h - 1 do for x = 0, w - 1 do t[#t + 1] = string.char(fn(x, y)) end end
  return table.concat(t)
end

local function pixel(bytes, w, x, y)
  local at = (y * w + x) * 4 + 1
  return bytes:sub(at, at + 3)
end

-- A connection that has said hello to a server offering inpaint and previews.
local function ready_connection(operations, features)
  local conn = connection.new{ url = "ws://127.0.0.1:8737" }
  conn:connect()
  local ws = stub.sockets[#stub.sockets]
  ws:_open()
  ws:_text(json.encode{ id = ws:_last().id, type = "result", op = "hello", server = "pixelsprite", version = "0.1.0",
                        protocol = 1, features = features or { "preview" },
                        operations = operations or { "hello", "models", "generate", "variations", "inpaint",
                                                     "interpolate", "palette", "cancel" } })
  return conn, ws
end

local PIXEL = { "label", "steps", "solver", "guidance", "temperature" }
local MODELS = {
  { name = "vae8", family = "vae", size = { 8, 8 }, operations = { "generate", "variations" }, parameters = {} },
  { name = "flow8", family = "flow", size = { 8, 8 }, operations = { "generate", "variations", "interpolate" },
    parameters = { "label", "steps", "solver", "guidance" }, labels = { "a", "b" } },
  { name = "pixel16", family = "pixel", size = { 16, 16 }, operations = { "generate", "variations", "inpaint" },
    parameters = PIXEL, labels = { "item", "mon" } },
  { name = "pixel8", family = "pixel", size = { 8, 8 }, operations = { "generate", "variations", "inpaint" },
    parameters = PIXEL, labels = { "a", "b" } },
  { name = "pixel8u", family = "pixel", size = { 8, 8 }, operations = { "generate", "variations", "inpaint" },
    parameters = { "steps", "solver", "temperature" } },
  { name = "old", size = { 8, 8 } },  -- an older server's entry: no operations listed
}

local function open_repaint(opts)
  opts = opts or {}
  local conn, ws = ready_connection(opts.operations, opts.features)
  local prefs = opts.prefs or {}
  local dlg, st = dialogs.repaint{ conn = conn, prefs = prefs, palettes = { "pico-8" } }
  local req = ws:_last()
  assert.are.equal("models", req.op)
  ws:_text(json.encode{ id = req.id, type = "result", op = "models", default = opts.default or "vae8",
                        models = opts.models or MODELS })
  return dlg, st, ws, prefs
end

local function result_frame(id, images, w, h, first_seed)
  local msg = { id = id, type = "result", op = "inpaint", model = "pixel8", size = { w, h }, image_format = "rgba",
                images = {}, seeds = {}, base_seed = first_seed, timing = { total_ms = 4.5 } }
  for i, bytes in ipairs(images) do msg.images[i] = b64.encode(bytes); msg.seeds[i] = first_seed + i - 1 end
  return json.encode(msg)
end

local function preview_frame(id, images, w, h, done, total)
  local msg = { id = id, type = "progress", done = done, total = total, unit = "steps", count = #images,
                size = { w, h }, image_format = "rgba", images = {} }
  for i, bytes in ipairs(images) do msg.images[i] = b64.encode(bytes) end
  return json.encode(msg)
end

-- An 8x8 sprite whose active cel is a 6x6 image at (1, 1): pixel (x, y) of the cel is (10 + x, 20 + y, 30, 255).
local function sprite8()
  local s = Sprite(8, 8, ColorMode.RGB)
  local img = Image(6, 6, ColorMode.RGB)
  img.bytes = rgba(6, 6, function(x, y) return 10 + x, 20 + y, 30, 255 end)
  app.activeCel = s:newCel(s.layers[1], 1, img, Point(1, 1))
  return s
end

-- What that cel shows at the sprite's size.
local function sprite8_rgba()
  return rgba(8, 8, function(x, y)
    if x >= 1 and y >= 1 and x <= 6 and y <= 6 then return 10 + x - 1, 20 + y - 1, 30, 255 end
    return 0, 0, 0, 0
  end)
end

before_each(function() stub.reset() end)
-- Aseprite prints errors raised inside dialog and socket callbacks to its console instead of failing: none expected
after_each(function() assert.are.same({}, stub.console) end)

describe("the double's Selection (selection_class.cpp, doc/mask.h)", function()
  it("holds rectangles, unions and differences, with tight bounds", function()
    local sel = Selection()
    assert.is_true(sel.isEmpty)
    assert.are.same(Rectangle(0, 0, 0, 0), sel.bounds)
    sel = Selection(Rectangle(2, 3, 4, 2))
    assert.is_false(sel.isEmpty)
    assert.is_true(sel:contains(2, 3))
    assert.is_true(sel:contains(Point(5, 4)))
    assert.is_true(sel:contains{ x = 5, y = 4 })
    assert.is_false(sel:contains(6, 4))
    sel:add(Rectangle(0, 0, 1, 1))
    assert.are.same(Rectangle(0, 0, 6, 5), sel.bounds)
    sel:subtract(Rectangle(0, 0, 1, 1))
    assert.are.same(Rectangle(2, 3, 4, 2), sel.bounds)  -- shrunk again
    sel:intersect(Rectangle(4, 0, 10, 10))
    assert.are.same(Rectangle(4, 3, 2, 2), sel.bounds)
    sel:select(Rectangle(0, 0, 0, 5))                    -- an empty rectangle deselects
    assert.is_true(sel.isEmpty)
  end)
  it("is the sprite's mask: set from a copy, changed by undoable edits, never from a table", function()
    local s = Sprite(8, 8, ColorMode.RGB)
    assert.is_true(s.selection.isEmpty)
    local mine = Selection(Rectangle(1, 1, 2, 2))
    s.selection = mine
    mine:add(Rectangle(5, 5, 1, 1))
    assert.are.same(Rectangle(1, 1, 2, 2), s.selection.bounds)  -- a copy
    s.selection:selectAll()
    assert.are.same(Rectangle(0, 0, 8, 8), s.selection.bounds)
    assert.are.same({ "setMask", "setMask" }, { stub.edits[1].what, stub.edits[2].what })
    assert.has_error(function() s.selection = { isEmpty = false, bounds = Rectangle(0, 0, 1, 1) } end)
  end)
end)

describe("the double's Cel (cel_class.cpp)", function()
  it("takes a copy of a new image and a new position, as undoable edits", function()
    local s = sprite8()
    local cel = app.activeCel
    local img = Image(8, 8, ColorMode.RGB)
    cel.image = img
    cel.position = Point(0, 0)
    assert.are_not.equal(img, cel.image)
    assert.are.same({ 8, 8 }, { cel.image.width, cel.image.height })
    assert.are.same({ x = 0, y = 0 }, cel.position)
    assert.are.same({ "newCel", "replaceImage", "setCelPosition" },
                    { stub.edits[1].what, stub.edits[2].what, stub.edits[3].what })
    assert.are.equal(cel, s.layers[1]:cel(1))
  end)
end)

describe("document: the selection as a mask and repainting into the cel", function()
  it("makes a 1-bit mask of the sprite's size from the selection, ignoring what lies past the canvas", function()
    local s = Sprite(4, 3, ColorMode.RGB)
    local mask, err = document.selection_mask(s)
    assert.is_nil(mask)
    assert.truthy(err:find("Select the pixels"))
    s.selection = Selection(Rectangle(2, 1, 5, 5))  -- reaches past the right and bottom edges
    s.selection:add(Rectangle(0, 0, 1, 1))
    local n
    mask, n = document.selection_mask(s)
    assert.are.equal(4 * 3 * 4, #mask)
    assert.are.equal(5, n)
    assert.are.equal(WHITE .. BLACK .. BLACK .. BLACK
                     .. BLACK .. BLACK .. WHITE .. WHITE
                     .. BLACK .. BLACK .. WHITE .. WHITE, mask)
    s.selection = Selection(Rectangle(10, 10, 2, 2))
    mask, err = document.selection_mask(s)
    assert.is_nil(mask)
    assert.truthy(err:find("outside the canvas"))
  end)
  it("keeps every pixel outside the mask and takes the repainted ones inside it, in one transaction", function()
    local s = sprite8()
    s.selection = Selection(Rectangle(0, 0, 3, 2))
    local mask = assert(document.selection_mask(s))
    local target = assert(document.repaint_target(s))
    local new = rgba(8, 8, function(x, y) return 200, x, y, 255 end)
    assert.is_true(document.repaint(target, new, mask))
    local cel = s.layers[1]:cel(1)
    assert.are.same({ x = 0, y = 0 }, cel.position)
    local got, before = cel.image.bytes, sprite8_rgba()
    for y = 0, 7 do
      for x = 0, 7 do
        local want = (x < 3 and y < 2) and pixel(new, 8, x, y) or pixel(before, 8, x, y)
        assert.are.equal(want, pixel(got, 8, x, y), x .. "," .. y)
      end
    end
    assert.are.same({ "pixelsprite: repaint selection" }, stub.transactions)
    for _, e in ipairs(stub.edits) do
      if e.what ~= "newCel" and e.what ~= "setMask" then assert.is_true(e.inside, e.what) end
    end
  end)
  it("gives an empty cel a new one, and refuses groups and indexed sprites", function()
    local s = Sprite(4, 4, ColorMode.RGB)
    s.selection = Selection(Rectangle(1, 1, 1, 1))
    local target = assert(document.repaint_target(s))
    assert.is_nil(s.layers[1]:cel(1))
    assert(document.repaint(target, string.rep("\9\8\7\255", 16), assert(document.selection_mask(s))))
    local img = s.layers[1]:cel(1).image
    assert.are.same({ 9, 8, 7, 255 }, { img:getPixelRGBA(1, 1) })
    assert.are.same({ 0, 0, 0, 0 }, { img:getPixelRGBA(0, 0) })
    assert.is_true(stub.edits[#stub.edits].inside)
    app.activeLayer.isImage, app.activeLayer.isGroup = false, true
    local _, err = document.repaint_target(s)
    assert.truthy(err:find("image layer"))
    Sprite(4, 4, ColorMode.INDEXED)
    _, err = document.repaint_target(app.activeSprite)
    assert.truthy(err:find("RGB"))
  end)
end)

describe("Repaint Selection dialog", function()
  it("lists only the models whose operations include inpaint, and picks one of the sprite's size", function()
    sprite8()
    local dlg = open_repaint()
    assert.are.same({ "pixel16", "pixel8", "pixel8u" }, dlg._w.model.options)
    assert.are.equal("pixel8", dlg.data.model)          -- the first of the sprite's size, not the default
    assert.are.same({ "(any)", "a", "b" }, dlg._w.label.options)
    assert.are.equal("Repaint", dlg._w.generate.text)
    assert.are.equal("Apply", dlg._w.apply.text)
    assert.is_nil(dlg._w.insert)                         -- no "Insert as": the pick goes back into the cel
    assert.is_nil(dlg._w.insert_button)
    assert.is_nil(dlg._w.candidates)                     -- inpaint takes no best-of-N
    dlg:_choose("model", "pixel8u")
    assert.are.same({ "(any)" }, dlg._w.label.options)   -- an unconditional model takes no label
  end)
  it("remembers the model the user chose when it fits the sprite", function()
    sprite8()
    local dlg = open_repaint{ prefs = { inpaint = { model = "pixel8u" } } }
    assert.are.equal("pixel8u", dlg.data.model)
    sprite8()
    dlg = open_repaint{ prefs = { inpaint = { model = "pixel16" } } }
    assert.are.equal("pixel8", dlg.data.model)
  end)
  it("sends the active cel and the selection as the mask, with the sampler options the model takes", function()
    local s = sprite8()
    s.selection = Selection(Rectangle(2, 2, 3, 3))
    s.selection:add(Rectangle(7, 0, 1, 1))
    local dlg, _, ws, prefs = open_repaint()
    dlg:_type("count", "3")
    dlg:_type("seed", "41")
    dlg:_choose("label", "b")
    dlg:_type("steps", "12")
    dlg:_type("guidance", "2.5")
    dlg:_type("temperature", "0.8")
    dlg:_choose("palette", "pico-8")
    dlg:_click("generate")
    local req = ws:_last()
    assert.are.same({ "inpaint", "pixel8", 3, 41, "b", 12, 2.5, 0.8, "pico-8", "rgba", true },
                    { req.op, req.model, req.count, req.seed, req.label, req.steps, req.guidance, req.temperature,
                      req.palette, req.image_format, req.preview })
    assert.are.same({ 8, 8, 8, 8 }, { req.image.width, req.image.height, req.mask.width, req.mask.height })
    assert.are.equal(sprite8_rgba(), b64.decode(req.image.rgba))
    local mask = b64.decode(req.mask.rgba)
    for y = 0, 7 do
      for x = 0, 7 do
        local selected = (x >= 2 and x <= 4 and y >= 2 and y <= 4) or (x == 7 and y == 0)
        assert.are.equal(selected and WHITE or BLACK, pixel(mask, 8, x, y), x .. "," .. y)
      end
    end
    assert.is_nil(req.candidates)
    assert.is_true(dlg._w.cancel.enabled)
    assert.are.same({ model = "pixel8", count = 3, seed = 41, palette = "pico-8", dither = "none",
                      despeckle = false, outline = "None", steps = 12, guidance = 2.5, temperature = 0.8 },
                    prefs.inpaint)
    assert.are.same(prefs.inpaint, stub.reload_preferences(prefs).inpaint)
  end)
  it("leaves out the options a model does not take, and its defaults", function()
    local s = sprite8()
    s.selection:selectAll()
    local dlg, _, ws = open_repaint()
    dlg:_choose("model", "pixel8u")
    dlg:_type("guidance", "3")
    dlg:_click("generate")
    local req = ws:_last()
    assert.are.equal("inpaint", req.op)
    assert.is_nil(req.label or req.steps or req.guidance or req.temperature or req.palette)
  end)
  it("shows previews, then the candidates in the preview grid; Apply puts the picked one into the cel", function()
    local s = sprite8()
    s.selection = Selection(Rectangle(0, 0, 4, 8))  -- the left half
    local dlg, st, ws = open_repaint()
    dlg:_type("count", "3")
    dlg:_type("seed", "5")
    dlg:_click("generate")
    local req = ws:_last()
    local function cand(v) return rgba(8, 8, function(x, y) return v, x, y, 255 end) end
    ws:_text(preview_frame(req.id, { cand(1), cand(2), cand(3) }, 8, 8, 1, 4))
    assert.truthy(dlg._w.status.text:find("Repainting... 1 / 4 steps (preview)", 1, true))
    local gc = dlg._w.preview.gc
    assert.are.equal(3, #gc.drawn)
    assert.are.equal(cand(2), gc.drawn[2].image.bytes)
    assert.is_false(gc.drawn[1].antialias)
    dlg:_click("apply")                                    -- previews cannot be applied
    assert.truthy(dlg._w.status.text:find("Repaint first"))
    assert.are.equal(6, s.layers[1]:cel(1).image.width)
    ws:_text(result_frame(req.id, { cand(101), cand(102), cand(103) }, 8, 8, 5))
    gc = dlg._w.preview.gc
    assert.are.same({ cand(101), cand(102), cand(103) },
                    { gc.drawn[1].image.bytes, gc.drawn[2].image.bytes, gc.drawn[3].image.bytes })
    assert.truthy(dlg._w.status.text:find("seeds 5..7"))
    assert.truthy(dlg._w.status.text:find("then Apply"))
    assert.is_false(dlg._w.cancel.enabled)
    -- with several candidates the user picks one; a click on another moves the pick
    dlg:_click("apply")
    assert.truthy(dlg._w.status.text:find("Click a candidate"))
    assert.are.equal(0, #stub.transactions)
    local d2, d3 = gc.drawn[2].dst, gc.drawn[3].dst
    dlg:_mousedown("preview", d2.x + 1, d2.y + 1)
    dlg:_mousedown("preview", d3.x + 1, d3.y + 1)
    assert.are.same({ [3] = true }, st.picked)
    dlg:_click("apply")
    local cel = s.layers[1]:cel(1)
    local got, before = cel.image.bytes, sprite8_rgba()
    for y = 0, 7 do
      for x = 0, 7 do
        local want = x < 4 and pixel(cand(103), 8, x, y) or pixel(before, 8, x, y)
        assert.are.equal(want, pixel(got, 8, x, y), x .. "," .. y)
      end
    end
    assert.are.same({ x = 0, y = 0 }, cel.position)
    assert.are.same({ "pixelsprite: repaint selection" }, stub.transactions)
    assert.truthy(dlg._w.status.text:find("Repainted 32 pixel%(s%) with seed 7"))
    assert.truthy(dlg._w.status.text:find("Undo"))
  end)
  it("applies the only candidate without a pick, keeping edits made to the cel since", function()
    local s = sprite8()
    s.selection = Selection(Rectangle(3, 3, 2, 2))
    local dlg, _, ws = open_repaint()
    dlg:_type("count", "1")
    dlg:_click("generate")
    local req = ws:_last()
    ws:_text(result_frame(req.id, { rgba(8, 8, function() return 1, 2, 3, 255 end) }, 8, 8, 9))
    -- the user paints a pixel outside the selection before pressing Apply: it stays
    local cel = s.layers[1]:cel(1)
    cel.image = (function()
      local img = Image(6, 6, ColorMode.RGB)
      img.bytes = cel.image.bytes:sub(1, -5) .. "\99\99\99\255"  -- cel pixel (5, 5) = sprite pixel (6, 6)
      return img
    end)()
    dlg:_click("apply")
    local img = s.layers[1]:cel(1).image
    assert.are.same({ 99, 99, 99, 255 }, { img:getPixelRGBA(6, 6) })
    assert.are.same({ 1, 2, 3, 255 }, { img:getPixelRGBA(4, 4) })
    assert.are.same({ 10, 20, 30, 255 }, { img:getPixelRGBA(1, 1) })
  end)
  it("repaints into the layer and frame it was asked for, even if another is active by then", function()
    local s = sprite8()
    s.selection = Selection(Rectangle(0, 0, 1, 1))
    local dlg, _, ws = open_repaint()
    dlg:_type("count", "1")
    dlg:_click("generate")
    local req = ws:_last()
    s:newLayer()
    app.activeCel = nil
    ws:_text(result_frame(req.id, { rgba(8, 8, function() return 7, 7, 7, 255 end) }, 8, 8, 1))
    dlg:_click("apply")
    assert.are.same({ 7, 7, 7, 255 }, { s.layers[1]:cel(1).image:getPixelRGBA(0, 0) })
    assert.is_nil(s.layers[2]:cel(1))
  end)
  it("says which models fit when the chosen one is not of the sprite's size, and sends nothing", function()
    local s = Sprite(16, 16, ColorMode.RGB)
    s.selection:selectAll()
    local dlg, _, ws = open_repaint()
    assert.are.equal("pixel16", dlg.data.model)
    dlg:_choose("model", "pixel8")
    local n = #ws.sent
    dlg:_click("generate")
    assert.are.equal(n, #ws.sent)
    local text = dlg._w.status.text
    assert.truthy(text:find("pixel8 makes 8x8 sprites but this sprite is 16x16", 1, true))
    assert.truthy(text:find("(pixel16)", 1, true))
    -- no model of its size at all
    s = Sprite(32, 32, ColorMode.RGB)
    s.selection:selectAll()
    dlg = open_repaint()
    dlg:_click("generate")
    assert.truthy(dlg._w.status.text:find("resize the canvas", 1, true))
  end)
  it("explains a missing selection, sprite mode or layer before sending", function()
    local s = sprite8()
    local dlg, _, ws = open_repaint()
    local n = #ws.sent
    dlg:_click("generate")
    assert.truthy(dlg._w.status.text:find("Select the pixels to repaint"))
    s.selection = Selection(Rectangle(1, 1, 2, 2))
    s.colorMode = ColorMode.INDEXED
    dlg:_click("generate")
    assert.truthy(dlg._w.status.text:find("RGB mode"))
    assert.are.equal(n, #ws.sent)
  end)
  it("says so when the server has no model that can repaint, or cannot repaint at all", function()
    sprite8().selection:selectAll()
    local dlg = open_repaint{ models = { MODELS[1], MODELS[2], MODELS[6] } }
    assert.are.same({}, dlg._w.model.options)
    assert.truthy(dlg._w.status.text:find("no model that can repaint"))
    dlg = open_repaint{ operations = { "hello", "models", "generate", "cancel" } }
    dlg:_click("generate")
    assert.truthy(dlg._w.status.text:find("cannot repaint"))
  end)
  it("shows the server's error in plain words, drops the previews, and cancels on close", function()
    local s = sprite8()
    s.selection:selectAll()
    local dlg, st, ws = open_repaint()
    dlg:_click("generate")
    local req = ws:_last()
    ws:_text(preview_frame(req.id, { sprite8_rgba() }, 8, 8, 1, 4))
    ws:_text(json.encode{ id = req.id, type = "error", code = "invalid_request", field = "temperature",
                          message = "temperature must be above 0 and at most 2, got 3" })
    assert.truthy(dlg._w.status.text:find("(temperature)", 1, true))
    assert.are.equal(0, #st.preview)
    dlg:_click("generate")
    local again = ws:_last()
    dlg:close()
    assert.are.same({ id = ws:_last().id, op = "cancel", target = again.id }, ws:_last())
  end)
end)

describe("temperature in Generate Sprite", function()
  it("goes only to models that list it, and only when set", function()
    local conn, ws = ready_connection()
    local dlg = dialogs.generate{ conn = conn, prefs = {}, palettes = {} }
    local req = ws:_last()
    ws:_text(json.encode{ id = req.id, type = "result", op = "models", default = "flow8", models = MODELS })
    dlg:_type("temperature", "1.5")
    dlg:_click("generate")
    assert.is_nil(ws:_last().temperature)   -- flow8 has no temperature
    dlg:_choose("model", "pixel8")
    dlg:_click("generate")
    assert.are.equal(1.5, ws:_last().temperature)
    dlg:_type("temperature", "0")
    dlg:_click("generate")
    assert.is_nil(ws:_last().temperature)   -- 0: the model's own
    assert.are.equal("generate", ws:_last().op)
  end)
end)

describe("protocol.inpaint", function()
  it("builds an inpaint request for raw RGBA answers and leaves out empty parameters", function()
    local img = protocol.rgba_image(rgba(2, 1, function() return 1, 2, 3, 255 end), 2, 1)
    local mask = protocol.rgba_image(WHITE .. BLACK, 2, 1)
    local m = protocol.inpaint(img, mask, { model = "pixel8", count = 2, seed = 3, palette = "" }, "p1")
    assert.are.same({ id = "p1", op = "inpaint", image = img, mask = mask, model = "pixel8", count = 2, seed = 3,
                      image_format = "rgba" }, m)
    assert.are.same(m, stub.plain(json.decode(protocol.encode(m))))
  end)
end)
