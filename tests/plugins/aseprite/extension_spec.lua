-- busted specs for the Aseprite extension, run against the test double of Aseprite's API in stub/ (rebuilt from
-- Aseprite's source; see the comments there). The last block, "in real Aseprite", holds the behaviours of the real
-- program that a hand-written stub had missed (issue #17).
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

local function rgba(w, h, fn)
  local t = {}
  for y = 0, h - 1 do for x = 0, w - 1 do t[#t + 1] = string.char(fn(x, y)) end end
  return table.concat(t)
end

local function result_frame(id, images, w, h, extra)
  local msg = { id = id, type = "result", op = "generate", size = { w, h }, image_format = "rgba", images = {},
                seeds = {}, timing = { total_ms = 3.5 } }
  for i, bytes in ipairs(images) do msg.images[i] = b64.encode(bytes); msg.seeds[i] = 6 + i end
  for k, v in pairs(extra or {}) do msg[k] = v end
  return json.encode(msg)
end

-- A connection that has said hello; `features` (e.g. { "preview" }) are what the server's hello announces.
local function ready_connection(states, features)
  local conn = connection.new{ url = "ws://127.0.0.1:8737", on_state = function(s, d)
    if states then states[#states + 1] = s end
  end }
  conn:connect()
  local ws = stub.sockets[#stub.sockets]
  ws:_open()
  local hello = ws:_last()
  -- an older server's hello has no features field
  ws:_text(json.encode{ id = hello.id, type = "result", op = "hello", server = "pixelsprite", version = "0.1.0",
                        protocol = 1, features = features,
                        operations = { "hello", "models", "generate", "variations", "interpolate", "palette",
                                       "cancel" } })
  return conn, ws
end

-- A progress answer carrying preview images (raw RGBA), as a server sends for "preview": true.
local function preview_frame(id, images, w, h, done, total)
  local msg = { id = id, type = "progress", done = done, total = total, unit = "steps", count = #images,
                size = { w, h }, image_format = "rgba", images = {} }
  for i, bytes in ipairs(images) do msg.images[i] = b64.encode(bytes) end
  return json.encode(msg)
end

before_each(function() stub.reset() end)
-- Aseprite prints errors raised inside dialog and socket callbacks to its console instead of failing: none expected
after_each(function() assert.are.same({}, stub.console) end)

describe("b64", function()
  it("round-trips every length and byte", function()
    local all = {}
    for i = 0, 255 do all[#all + 1] = string.char(i) end
    all = table.concat(all)
    for n = 0, 10 do assert.are.equal(all:sub(1, n), b64.decode(b64.encode(all:sub(1, n)))) end
    assert.are.equal(all, b64.decode(b64.encode(all)))
  end)
  it("matches known encodings", function()
    assert.are.equal("", b64.encode(""))
    assert.are.equal("Zg==", b64.encode("f"))
    assert.are.equal("Zm8=", b64.encode("fo"))
    assert.are.equal("Zm9vYmFy", b64.encode("foobar"))
    assert.are.equal("AAAA/w==", b64.encode("\0\0\0\255"))
  end)
  it("refuses text that is not base64", function()
    assert.is_nil((b64.decode("abc")))
    assert.is_nil((b64.decode("ab!d")))
    assert.is_nil((b64.decode("a=bc")))
  end)
end)

describe("protocol", function()
  it("builds a hello with the client, version and protocol", function()
    local m = protocol.hello("h")
    assert.are.same({ id = "h", op = "hello", client = "aseprite-pixelsprite", version = "0.1.0", protocol = 1 }, m)
  end)
  it("asks generate for raw RGBA and leaves out empty parameters", function()
    local m = protocol.generate({ model = "vae16", count = 4, seed = 7, palette = "" }, "g1")
    assert.are.same({ id = "g1", op = "generate", model = "vae16", count = 4, seed = 7, image_format = "rgba" }, m)
    assert.are.same(m, stub.plain(json.decode(protocol.encode(m))))
  end)
  it("sends images as raw RGBA base64 with their size", function()
    local bytes = rgba(2, 1, function(x) return x * 10, 1, 2, 255 end)
    local m = protocol.variations(protocol.rgba_image(bytes, 2, 1), { count = 3, strength = 0.5 }, "v")
    assert.are.equal("variations", m.op)
    assert.are.equal(bytes, b64.decode(m.image.rgba))
    assert.are.equal(2, m.image.width)
    assert.has_error(function() protocol.rgba_image("abc", 2, 1) end)
    local i = protocol.interpolate(7, 9, { count = 5, method = "lerp" }, "i")
    assert.are.same({ id = "i", op = "interpolate", a = 7, b = 9, count = 5, method = "lerp", image_format = "rgba" }, i)
  end)
  it("gives each request a fresh id", function()
    assert.are_not.equal(protocol.models().id, protocol.models().id)
  end)
  it("decodes result images to raw RGBA bytes of the right size", function()
    local a = rgba(2, 2, function(x, y) return x, y, 0, 255 end)
    local b = rgba(2, 2, function() return 0, 0, 0, 0 end)
    local msg = protocol.decode(result_frame("g", { a, b }, 2, 2))
    local images = assert(protocol.images(msg))
    assert.are.equal(2, #images)
    assert.are.equal(a, images[1].bytes)
    assert.are.equal(7, images[1].seed)
    assert.are.equal(2, images[2].width)
  end)
  it("rejects images with the wrong byte count or format", function()
    local msg = protocol.decode(result_frame("g", { "\1\2\3\4" }, 2, 2))
    local images, err = protocol.images(msg)
    assert.is_nil(images)
    assert.truthy(err:find("expected 16"))
    msg.image_format = "png"
    assert.is_nil((protocol.images(msg)))
  end)
  it("refuses frames that are not answers", function()
    assert.is_nil((protocol.decode("not json")))
    assert.is_nil((protocol.decode('{"id": "x", "type": "weird"}')))
  end)
  it("checks hello's protocol and explains a mismatch", function()
    assert.is_true(protocol.check_hello{ protocol = 1 })
    local ok, why = protocol.check_hello{ protocol = 2 }
    assert.is_false(ok)
    assert.truthy(why:find("Update the extension"))
    ok, why = protocol.check_hello{ protocol = 0 }
    assert.truthy(why:find("Update the server"))
  end)
  it("explains errors in plain words, unknown codes as internal", function()
    local t = protocol.explain{ code = "unsupported_parameter", field = "label", message = "vae16 is unconditional" }
    assert.truthy(t:find("cannot use a setting %(label%)"))
    assert.truthy(t:find("unconditional"))
    assert.truthy(protocol.explain{ code = "brand_new" }:find("internal"))
  end)
  it("converts colours between hex and RGB", function()
    assert.are.same({ 26, 28, 44 }, { protocol.hex_to_rgb("#1a1c2c") })
    assert.are.equal("#1a1c2c", protocol.rgb_to_hex(26, 28, 44))
    assert.is_nil(protocol.hex_to_rgb("red"))
  end)
end)

describe("connection", function()
  it("says hello on open and becomes ready", function()
    local states = {}
    local conn, ws = ready_connection(states)
    assert.are.equal("ready", conn.state)
    assert.are.same({ "connecting", "ready" }, states)
    assert.are.equal("hello", stub.plain(json.decode(ws.sent[1])).op)
  end)
  it("reports a protocol mismatch", function()
    local conn = connection.new{ url = "ws://x" }
    conn:connect()
    local ws = stub.sockets[1]
    ws:_open()
    ws:_text(json.encode{ id = ws:_last().id, type = "result", op = "hello", protocol = 2 })
    assert.are.equal("mismatch", conn.state)
    assert.truthy(conn.detail:find("protocol 2"))
  end)
  it("routes progress, result and error answers by id", function()
    local conn, ws = ready_connection()
    local seen = {}
    local id = conn:send(protocol.generate{ count = 1 }, {
      on_progress = function(p) seen[#seen + 1] = "progress " .. p.done end,
      on_result = function() seen[#seen + 1] = "result" end,
    })
    local id2 = conn:send(protocol.generate{ label = "x" }, {
      on_error = function(_, text) seen[#seen + 1] = text end,
    })
    ws:_text(json.encode{ id = id, type = "progress", done = 1, total = 2, unit = "steps" })
    ws:_text(json.encode{ id = id2, type = "error", code = "unsupported_parameter", field = "label", message = "m" })
    ws:_text(json.encode{ id = id, type = "result", op = "generate" })
    ws:_text(json.encode{ id = id, type = "result", op = "generate" })  -- a late duplicate is ignored
    assert.are.same({ "progress 1", "The chosen model cannot use a setting (label).\nm", "result" }, seen)
  end)
  it("knows the optional features the server's hello announces, none before hello", function()
    local conn = connection.new{ url = "ws://x" }
    assert.is_false(conn:supports("preview"))
    conn = ready_connection(nil, { "preview" })
    assert.is_true(conn:supports("preview"))
    assert.is_false(conn:supports("telepathy"))
    conn = ready_connection()
    assert.is_false(conn:supports("preview"))  -- an older server: no features field
  end)
  it("sends cancel for a request in flight only", function()
    local conn, ws = ready_connection()
    local id = conn:send(protocol.generate{ count = 1 }, {})
    conn:cancel(id)
    assert.are.same({ id = ws:_last().id, op = "cancel", target = id }, ws:_last())
    local n = #ws.sent
    conn:cancel("never-sent")
    assert.are.equal(n, #ws.sent)
  end)
  it("fails requests when not connected and when the socket breaks", function()
    local conn = connection.new{ url = "ws://x" }
    local text
    assert.is_nil(conn:send(protocol.models(), { on_error = function(_, t) text = t end }))
    assert.truthy(text:find("Not connected"))
    local ws
    conn, ws = ready_connection()
    conn:send(protocol.models(), { on_error = function(_, t) text = t end })
    ws:_drop()
    assert.truthy(text:find("broke"))
    assert.are.equal("connecting", conn.state)
  end)
end)

describe("document", function()
  local function images(n, w, h)
    local out = {}
    for i = 1, n do out[i] = { width = w, height = h, bytes = rgba(w, h, function(x, y) return i, x, y, 255 end) } end
    return out
  end

  it("inserts a new sprite with one frame per image in one transaction", function()
    local s = assert(document.insert(images(3, 4, 4), "sprite"))
    assert.are.equal(4, s.width)
    assert.are.equal(3, #s.frames)
    assert.are.equal(images(3, 4, 4)[2].bytes, s.layers[1]:cel(2).image.bytes)
    assert.are.equal(1, #stub.transactions)
    for _, e in ipairs(stub.edits) do assert.is_true(e.inside, e.what) end
  end)
  it("inserts a new layer at the position in the active sprite", function()
    local s = Sprite(16, 16, ColorMode.RGB)
    assert(document.insert(images(1, 4, 4), "layer", { position = Point(3, 5) }))
    assert.are.equal(2, #s.layers)
    local cel = s.layers[2]:cel(1)
    assert.are.same({ x = 3, y = 5 }, cel.position)
    assert.are.equal(1, #stub.transactions)
    for _, e in ipairs(stub.edits) do assert.is_true(e.inside, e.what) end
  end)
  it("adds new frames after the active one", function()
    local s = Sprite(4, 4, ColorMode.RGB)
    assert(document.insert(images(2, 4, 4), "frames"))
    assert.are.equal(3, #s.frames)
    assert.are.equal(images(2, 4, 4)[1].bytes, s.layers[1]:cel(2).image.bytes)
    assert.are.equal(1, #stub.transactions)
    for _, e in ipairs(stub.edits) do assert.is_true(e.inside, e.what) end
  end)
  it("lays several sprites out as one sprite sheet in a new sprite", function()
    local ims = images(3, 2, 2)
    local s = assert(document.insert(ims, "sheet"))
    assert.are.same({ 4, 4, 1 }, { s.width, s.height, #s.frames })
    local sheet = s.layers[1]:cel(1).image
    assert.are.same({ 1, 0, 0, 255 }, { sheet:getPixelRGBA(0, 0) })
    assert.are.same({ 2, 1, 1, 255 }, { sheet:getPixelRGBA(3, 1) })
    assert.are.same({ 3, 0, 0, 255 }, { sheet:getPixelRGBA(0, 2) })
    assert.are.same({ 0, 0, 0, 0 }, { sheet:getPixelRGBA(2, 2) })
    for _, e in ipairs(stub.edits) do assert.is_true(e.inside, e.what) end
  end)
  it("refuses indexed sprites and a missing sprite with a sentence", function()
    local _, err = document.insert(images(1, 4, 4), "layer")
    assert.truthy(err:find("no open sprite"))
    Sprite(4, 4, ColorMode.INDEXED)
    _, err = document.insert(images(1, 4, 4), "frames")
    assert.truthy(err:find("not RGB"))
    assert.are.equal(0, #stub.edits)
  end)
  it("reads a cel back as RGBA and a palette as hex", function()
    local s = Sprite(4, 4, ColorMode.RGB)
    local img = Image(2, 2, ColorMode.RGB)
    img.bytes = rgba(2, 2, function() return 9, 8, 7, 255 end)
    local cel = s:newCel(s.layers[1], 1, img, Point(1, 1))
    local bytes = assert(document.cel_rgba(cel, 4, 4))
    assert.are.equal(64, #bytes)
    assert.are.equal("\0\0\0\0", bytes:sub(1, 4))
    assert.are.equal("\9\8\7\255", bytes:sub(21, 24))  -- pixel (1, 1)
    local pal = document.set_palette(s, { "#000000", "#ff8000" })
    assert.are.equal(2, #pal)
    assert.are.same({ "#000000", "#ff8000" }, document.palette_hexes(s))
    assert.is_true(stub.edits[#stub.edits].inside)
  end)
end)

describe("Generate Sprite dialog", function()
  local function open(prefs, which, features)
    local conn, ws = ready_connection(nil, features)
    local dlg, st = dialogs[which or "generate"]{ conn = conn, prefs = prefs or {}, palettes = { "pico-8" } }
    local models = ws:_last()
    assert.are.equal("models", models.op)
    ws:_text(json.encode{ id = models.id, type = "result", op = "models", default = "vae16",
                          models = { { name = "vae16", size = { 16, 16 } }, { name = "vae40", size = { 40, 40 } },
                                     { name = "flow16", size = { 16, 16 }, labels = { "item", "mon" },
                                       parameters = { "label", "steps", "guidance" } } } })
    return dlg, st, ws, conn
  end

  it("shows the server status and the models, remembering the last model", function()
    local dlg = open{ generate = { model = "vae40" } }
    assert.is_true(dlg.visible)
    assert.is_false(dlg.wait)
    assert.truthy(dlg._w.status.text:find("Connected"))
    assert.are.same({ "vae16", "vae40", "flow16" }, dlg._w.model.options)
    assert.are.equal("vae40", dlg.data.model)
  end)
  it("offers label, steps and guidance only to models that take them", function()
    local dlg, _, ws = open()
    assert.are.same({ "(any)" }, dlg._w.label.options)
    dlg:_type("steps", "12")
    dlg:_click("generate")
    assert.is_nil(ws:_last().steps)
    dlg:_choose("model", "flow16")
    assert.are.same({ "(any)", "item", "mon" }, dlg._w.label.options)
    dlg:_choose("label", "mon")
    dlg:_type("guidance", "2.5")
    dlg:_click("generate")
    local req = ws:_last()
    assert.are.same({ "mon", 12, 2.5 }, { req.label, req.steps, req.guidance })
  end)
  it("reconnects to the server URL typed in and remembers it", function()
    local prefs = {}
    local dlg = open(prefs)
    dlg:_type("url", "ws://127.0.0.1:9000")
    dlg:_click("reconnect")
    assert.are.equal("ws://127.0.0.1:9000", stub.sockets[#stub.sockets].url)
    assert.are.equal("ws://127.0.0.1:9000", prefs.url)
  end)
  it("rolls a seed with the dice", function()
    local dlg = open()
    dlg:_click("dice")
    local seed = dlg.data.seed
    assert.truthy(seed >= 0 and seed <= dialogs.MAX_SEED)
  end)
  it("generates without blocking, previews nearest-neighbour, inserts picks, remembers options", function()
    local prefs = {}
    local dlg, st, ws = open(prefs)
    dlg:_type("count", "3")
    dlg:_type("seed", "7")
    dlg:_choose("palette", "pico-8")
    dlg:_click("generate")
    local req = ws:_last()
    assert.are.same({ id = req.id, op = "generate", model = "vae16", count = 3, seed = 7, palette = "pico-8",
                      image_format = "rgba" }, req)
    assert.is_true(dlg._w.cancel.enabled)
    ws:_text(json.encode{ id = req.id, type = "progress", done = 1, total = 3, unit = "sprites" })
    assert.truthy(dlg._w.status.text:find("1 / 3"))
    local px = {}
    for i = 1, 3 do px[i] = rgba(16, 16, function(x, y) return i, x, y, 255 end) end
    ws:_text(result_frame(req.id, px, 16, 16))
    assert.are.equal(3, #st.images)
    assert.is_false(dlg._w.cancel.enabled)
    local gc = dlg._w.preview.gc
    assert.are.equal(3, #gc.drawn)
    assert.is_false(gc.drawn[1].antialias)
    local d = gc.drawn[2]
    assert.are.equal(d.dst.width, 16 * st.layout.scale)
    assert.are.equal(0, d.dst.width % d.src.width)
    -- pick sprite 2 and insert it as a new sprite
    dlg:_mousedown("preview", d.dst.x + 1, d.dst.y + 1)
    assert.is_true(st.picked[2])
    dlg:_click("insert_button")
    local s = app.activeSprite
    assert.are.equal(1, #s.frames)
    assert.are.equal(px[2], s.layers[1]:cel(1).image.bytes)
    assert.are.same({ model = "vae16", count = 3, seed = 7, palette = "pico-8", insert = "New sprite",
                      steps = 0, guidance = 0.0, temperature = 0.0, dither = "none", despeckle = false,
                      outline = "None", candidates = 1 }, prefs.generate)
  end)
  it("asks for previews and redraws the grid with each progress that carries images", function()
    local dlg, st, ws = open({}, "generate", { "preview" })
    dlg:_type("count", "2")
    dlg:_click("generate")
    local req = ws:_last()
    assert.is_true(req.preview)
    assert.are.equal("rgba", req.image_format)
    local function px(v) return rgba(16, 16, function(x, y) return v, x, y, 255 end) end
    -- a progress without images only updates the status
    ws:_text(json.encode{ id = req.id, type = "progress", done = 1, total = 4, unit = "steps" })
    assert.are.equal(0, #dlg._w.preview.gc.drawn)
    ws:_text(preview_frame(req.id, { px(1), px(2) }, 16, 16, 2, 4))
    assert.truthy(dlg._w.status.text:find("2 / 4 steps %(preview%)"))
    local gc = dlg._w.preview.gc
    assert.are.equal(2, #gc.drawn)
    assert.is_false(gc.drawn[1].antialias)
    assert.are.equal(px(1), gc.drawn[1].image.bytes)
    local d = gc.drawn[2]
    assert.are.same({ 16, 16 }, { d.src.width, d.src.height })
    assert.are.equal(0, d.dst.width % 16)
    assert.truthy(d.dst.width > 16)  -- scaled by a whole number, as the final grid
    -- previews are not pickable nor insertable
    dlg:_mousedown("preview", d.dst.x + 1, d.dst.y + 1)
    assert.is_nil(st.picked[2])
    dlg:_click("insert_button")
    assert.truthy(dlg._w.status.text:find("Generate first"))
    assert.is_nil(app.activeSprite)
    -- the next preview replaces the last one
    ws:_text(preview_frame(req.id, { px(3), px(4) }, 16, 16, 3, 4))
    assert.are.equal(px(4), dlg._w.preview.gc.drawn[2].image.bytes)
    -- the result replaces the preview with the same drawing code
    ws:_text(result_frame(req.id, { px(5), px(6) }, 16, 16))
    gc = dlg._w.preview.gc
    assert.are.same({ px(5), px(6) }, { gc.drawn[1].image.bytes, gc.drawn[2].image.bytes })
    assert.are.equal(d.dst.width, gc.drawn[2].dst.width)
    assert.are.equal(0, #st.preview)
    dlg:_mousedown("preview", d.dst.x + 1, d.dst.y + 1)
    assert.is_true(st.picked[2])
  end)
  it("drops the preview when the request fails, and ignores previews it cannot read", function()
    local dlg, st, ws = open({}, "variations", { "preview" })
    local s = Sprite(16, 16, ColorMode.RGB)
    local img = Image(16, 16, ColorMode.RGB)
    app.activeCel = s:newCel(s.layers[1], 1, img, Point(0, 0))
    dlg:_click("generate")
    local req = ws:_last()
    assert.are.same({ "variations", true }, { req.op, req.preview })
    ws:_text(preview_frame(req.id, { "\1\2\3" }, 16, 16, 1, 3))  -- a wrong byte count: not drawn
    assert.are.equal(0, #st.preview)
    ws:_text(preview_frame(req.id, { img.bytes }, 16, 16, 2, 3))
    assert.are.equal(1, #dlg._w.preview.gc.drawn)
    ws:_text(json.encode{ id = req.id, type = "error", code = "cancelled", message = "cancelled", field = "id" })
    assert.are.equal(0, #st.preview)
    assert.are.equal(0, #dlg._w.preview.gc.drawn)
  end)
  it("does not ask an older server for previews", function()
    local dlg, _, ws = open()
    dlg:_click("generate")
    assert.is_nil(ws:_last().preview)
  end)
  it("lists only models that make sprites for the dialog's operation", function()
    local conn, ws = ready_connection()
    local dlg = dialogs.generate{ conn = conn, prefs = {}, palettes = {} }
    local models = ws:_last()
    ws:_text(json.encode{ id = models.id, type = "result", op = "models", default = "vae16",
                          models = { { name = "teacher", size = { 40, 40 }, operations = { "score", "similar" } },
                                     { name = "vae16", size = { 16, 16 }, operations = { "generate", "variations" } } } })
    assert.are.same({ "vae16" }, dlg._w.model.options)
  end)
  it("asks for the teacher's pick of N candidates only when N > 1, at most 16", function()
    local dlg, _, ws = open()
    dlg:_click("generate")
    assert.is_nil(ws:_last().candidates)
    dlg:_type("candidates", "4")
    dlg:_click("generate")
    assert.are.equal(4, ws:_last().candidates)
    dlg:_type("candidates", "99")
    dlg:_click("generate")
    assert.are.equal(16, ws:_last().candidates)
  end)
  it("sends clean-up options only when switched on", function()
    local dlg, _, ws = open()
    dlg:_click("generate")
    local req = ws:_last()
    assert.is_nil(req.despeckle or req.outline or req.dither)
    dlg:_check("despeckle", true)
    dlg:_choose("outline", "Darkest colour")
    dlg:_choose("dither", "bayer2")
    dlg:_click("generate")
    req = ws:_last()
    assert.are.same({ true, "darkest" }, { req.despeckle, req.outline })
    assert.is_nil(req.dither)  -- dithering needs a palette
    dlg:_choose("palette", "pico-8")
    dlg:_click("generate")
    assert.are.equal("bayer2", ws:_last().dither)
  end)
  it("sends the sprite's palette as colours", function()
    local s = Sprite(16, 16, ColorMode.RGB)
    document.set_palette(s, { "#102030", "#ffffff" })
    local dlg, _, ws = open()
    dlg:_choose("palette", "Sprite's palette")
    dlg:_click("generate")
    assert.are.same({ "#102030", "#ffffff" }, ws:_last().palette)
  end)
  it("cancels a request in flight and shows server errors in plain words", function()
    local dlg, _, ws = open()
    dlg:_click("generate")
    local req = ws:_last()
    dlg:_click("cancel")
    assert.are.same({ id = ws:_last().id, op = "cancel", target = req.id }, ws:_last())
    ws:_text(json.encode{ id = req.id, type = "error", code = "cancelled", message = "request was cancelled",
                          field = "id" })
    assert.truthy(dlg._w.status.text:find("Cancelled"))
    assert.is_false(dlg._w.cancel.enabled)
    -- closing the dialog cancels what is in flight and detaches it from the connection
    dlg:_click("generate")
    local again = ws:_last()
    dlg:close()
    assert.are.same({ id = ws:_last().id, op = "cancel", target = again.id }, ws:_last())
    local text = dlg._w.status.text
    ws:_drop()
    assert.are.equal(text, dlg._w.status.text)
  end)
  it("sends the active cel inside the selection for variations and inserts them as new frames", function()
    local s = Sprite(32, 32, ColorMode.RGB)
    local img = Image(16, 16, ColorMode.RGB)
    img.bytes = rgba(16, 16, function(x, y) return x, y, 5, 255 end)
    app.activeCel = s:newCel(s.layers[1], 1, img, Point(8, 8))
    s.selection = Selection(Rectangle(8, 8, 16, 16))
    local prefs = {}
    local dlg, _, ws = open(prefs, "variations")
    assert.are.equal("New frames", dlg.data.insert)
    dlg:_type("count", "2")
    dlg:_slide("strength", 80)
    dlg:_click("generate")
    local req = ws:_last()
    assert.are.equal("variations", req.op)
    assert.are.equal(0.8, req.strength)
    assert.are.equal(img.bytes, b64.decode(req.image.rgba))
    assert.are.same({ 16, 16 }, { req.image.width, req.image.height })
    ws:_text(result_frame(req.id, { img.bytes, img.bytes }, 16, 16))
    dlg:_click("insert_button")
    assert.are.equal(3, #s.frames)
    assert.are.same({ x = 8, y = 8 }, s.layers[1]:cel(2).position)
    assert.are.equal(80, prefs.variations.strength)
  end)
  it("explains what is missing before sending variations", function()
    local dlg, _, ws = open({}, "variations")
    local n = #ws.sent
    dlg:_click("generate")
    assert.are.equal(n, #ws.sent)
    assert.truthy(dlg._w.status.text:find("Select a cel"))
  end)
  it("interpolates between the active layer's cels in two frames", function()
    local s = Sprite(16, 16, ColorMode.RGB)
    local a, b = Image(16, 16, ColorMode.RGB), Image(16, 16, ColorMode.RGB)
    a.bytes = rgba(16, 16, function() return 1, 2, 3, 255 end)
    b.bytes = rgba(16, 16, function() return 4, 5, 6, 255 end)
    s:newCel(s.layers[1], 1, a, Point(0, 0))
    s:newEmptyFrame(2)
    s:newCel(s.layers[1], 2, b, Point(0, 0))
    local dlg, _, ws = open({}, "interpolate")
    dlg:_type("count", "5")
    dlg:_choose("method", "lerp")
    dlg:_click("generate")
    local req = ws:_last()
    assert.are.equal("interpolate", req.op)
    assert.are.equal(5, req.count)
    assert.are.equal("lerp", req.method)
    assert.are.equal(a.bytes, b64.decode(req.a.rgba))
    assert.are.equal(b.bytes, b64.decode(req.b.rgba))
  end)
  it("proposes a palette from a model, sets it on the sprite in one undo step and saves the .gpl", function()
    local s = Sprite(16, 16, ColorMode.RGB)
    local prefs = {}
    local dlg, st, ws = open(prefs, "palette")
    dlg:_type("colors", "2")
    dlg:_click("propose")
    local req = ws:_last()
    assert.are.same({ id = req.id, op = "palette", model = "vae16", count = 64, seed = 1, colors = 2,
                      method = "kmeans", format = "gpl", name = "pixelsprite vae16" }, req)
    local gpl = "GIMP Palette\nName: p\n#\n  0   0   0\t#000000\n255 128   0\t#ff8000\n"
    ws:_text(json.encode{ id = req.id, type = "result", op = "palette", model = "vae16", sample_count = 64,
                          colors = { "#000000", "#ff8000" }, format = "gpl", file = b64.encode(gpl) })
    assert.are.equal(2, dlg._w.swatch.gc.filled)
    local before = #stub.transactions
    dlg:_click("set")
    assert.are.equal(before + 1, #stub.transactions)
    assert.are.same({ "#000000", "#ff8000" }, document.palette_hexes(s))
    local path = stub.current_path .. "/mine.gpl"
    dlg:_browse("path", path)
    dlg:_click("save")
    local f = assert(stub.real.open(path, "rb"))
    assert.are.equal(gpl, f:read("a"))
    f:close()
    assert.truthy(dlg._w.status.text:find("Saved"))
    assert.are.equal(2, prefs.palette_from_model.colors)
    assert.truthy(#st.colors == 2)
  end)
  it("explains that an older server cannot propose palettes", function()
    local dlg, _, ws, conn = open({}, "palette")
    conn.server = { protocol = 1, operations = { "hello", "models", "generate" } }
    local n = #ws.sent
    dlg:_click("propose")
    assert.are.equal(n, #ws.sent)
    assert.truthy(dlg._w.status.text:find("cannot propose palettes"))
  end)
  it("lays out the preview grid with integer scales and hit-tests it", function()
    local lay = dialogs.grid_layout(8, 16, 16, 256, 128)
    assert.are.same({ cols = 4, rows = 2, scale = 4, fits = true }, lay)
    assert.are.equal(6, dialogs.hit(lay, 16, 16, 64 + 1, 64 + 1, 8))
    assert.is_nil(dialogs.hit(lay, 16, 16, 300, 1, 8))
  end)
end)

describe("plugin.lua", function()
  it("registers Generate Sprite in a menu group, keeps the server URL in preferences, closes on exit", function()
    local commands, groups = {}, {}
    local plugin = { path = ROOT:sub(1, -2), preferences = {} }
    function plugin:newCommand(t) commands[#commands + 1] = t end
    function plugin:newMenuGroup(t) groups[#groups + 1] = t end
    dofile(ROOT .. "plugin.lua")
    init(plugin)
    assert.are.equal("ws://127.0.0.1:8737", plugin.preferences.url)
    assert.are.equal(1, #groups)
    assert.are.same({ "Generate Sprite...", "Variations of Selection...", "Interpolate Between Frames...",
                      "Repaint Selection...", "Palette from Model..." },
                    { commands[1].title, commands[2].title, commands[3].title, commands[4].title, commands[5].title })
    assert.is_nil(commands[1].onenabled)
    assert.is_false(commands[2].onenabled())
    assert.is_false(commands[4].onenabled())  -- Repaint Selection needs a sprite
    Sprite(8, 8, ColorMode.RGB)
    assert.is_true(commands[4].onenabled())
    app.activeSprite = nil
    assert.are.equal(groups[1].id, commands[1].group)
    commands[1].onclick()
    local dlg = stub.dialogs[#stub.dialogs]
    assert.are.equal("Generate Sprite", dlg.title)
    assert.are.equal("Palette", dlg._w.palette.label)
    assert.truthy(#dlg._w.palette.options > 2)
    assert.are.equal("connecting", stub.sockets[1].state)  -- it connected on first use, without waiting
    exit(plugin)
    assert.are.equal("stopped", stub.sockets[1].state)
  end)
end)

-- Behaviours of the real Aseprite, modelled by the double from Aseprite's source (issue #17). Each of these failed
-- against the extension as it was written for the hand-made stub.
describe("in real Aseprite", function()
  local MODELS = { { name = "vae16", size = { 16, 16 } },
                   { name = "flow16", size = { 16, 16 }, labels = { "item", "mon" },
                     parameters = { "label", "steps", "guidance" } } }

  local function answer_models(ws, models, default)
    local req = ws:_last()
    assert.are.equal("models", req.op)
    ws:_text(json.encode{ id = req.id, type = "result", op = "models", default = default or "vae16",
                          models = models or MODELS })
  end

  local function dialog(features, which)
    local conn, ws = ready_connection(nil, features)
    local dlg, st = dialogs[which or "generate"]{ conn = conn, prefs = {}, palettes = { "pico-8" } }
    answer_models(ws)
    return dlg, st, ws, conn
  end

  -- 1. json.decode returns a userdata proxy with float numbers (json_class.cpp)
  describe("1. JSON proxies", function()
    it("json.decode gives a userdata proxy with float numbers, as json_class.cpp does", function()
      local o = json.decode('{"a":[1,2],"b":5}')
      assert.are.equal("userdata", type(o))
      assert.are.equal("float", math.type(o.b))
      assert.are.equal(2, #o.a)
    end)
    it("says hello through a proxy and becomes ready", function()
      local conn = ready_connection()
      assert.are.equal("ready", conn.state)
      assert.are.equal("0.1.0", conn.detail)
    end)
    it("reads hello's features and operations from the proxy", function()
      local conn = ready_connection(nil, { "preview" })
      assert.is_true(conn:supports("preview"))
      assert.is_false(conn:offers("telepathy"))
      assert.is_true(conn:offers("palette"))
    end)
    it("turns integral JSON numbers into integers and keeps fractions", function()
      local msg = assert(protocol.decode('{"id":"g","type":"result","size":[16,16],"seeds":[7,8],' ..
                                         '"timing":{"total_ms":3.5},"images":[]}'))
      assert.are.equal("table", type(msg))
      assert.are.same({ "integer", "integer", "integer" },
                      { math.type(msg.size[1]), math.type(msg.size[2]), math.type(msg.seeds[2]) })
      assert.are.equal(3.5, msg.timing.total_ms)
      local conn = connection.new{ url = "ws://x" }
      conn:connect()
      local ws = stub.sockets[1]
      ws:_open()
      ws:_text(json.encode{ id = ws:_last().id, type = "result", op = "hello", protocol = 2 })
      assert.are.equal("mismatch", conn.state)
      assert.truthy(conn.detail:find("protocol 2 "))
      assert.is_nil(conn.detail:find("2%.0"))
    end)
    it("fills the model list, previews and inserts results that arrive as proxies", function()
      local dlg, st, ws = dialog({ "preview" })
      assert.are.same({ "vae16", "flow16" }, dlg._w.model.options)
      dlg:_click("generate")
      local req = ws:_last()
      assert.is_true(req.preview)
      local px = rgba(16, 16, function(x, y) return x, y, 9, 255 end)
      ws:_text(preview_frame(req.id, { px }, 16, 16, 1, 4))
      assert.are.equal(1, #dlg._w.preview.gc.drawn)
      ws:_text(result_frame(req.id, { px, px }, 16, 16))
      assert.are.equal(2, #st.images)
      assert.truthy(dlg._w.status.text:find("seeds 7..8"))
      dlg:_click("insert_button")
      assert.are.equal(px, app.activeSprite.layers[1]:cel(1).image.bytes)
      assert.are.same({}, stub.console)
    end)
  end)

  -- 2. a failed connection arrives as ERROR, never CLOSE (websocket_class.cpp, IXWebSocket.cpp checkConnection)
  describe("2. no server", function()
    it("shows how to start the server when the connection is refused", function()
      local conn = connection.new{ url = "ws://127.0.0.1:8737" }
      local dlg = dialogs.generate{ conn = conn, prefs = {}, palettes = {} }
      local ws = stub.sockets[1]
      ws:_refuse()
      assert.truthy(dlg._w.status.text:find("start it with: pixelsprite serve", 1, true))
      assert.truthy(dlg._w.status.text:find("ws://127.0.0.1:8737", 1, true))
      -- Aseprite keeps retrying: when the server comes up the same socket opens, says hello and lists the models
      ws:_open()
      ws:_text(json.encode{ id = ws:_last().id, type = "result", op = "hello", version = "0.1.0", protocol = 1 })
      assert.are.equal("ready", conn.state)
      assert.are.equal("models", ws:_last().op)
    end)
    it("works with Aseprite versions whose onreceive gets no error text (before v1.3.15.5)", function()
      stub.onreceive_error_arg = false
      local conn = connection.new{ url = "ws://127.0.0.1:8737" }
      local dlg = dialogs.generate{ conn = conn, prefs = {}, palettes = {} }
      stub.sockets[1]:_refuse()
      assert.truthy(dlg._w.status.text:find("pixelsprite serve", 1, true))
      assert.are.same({}, stub.console)
    end)
  end)

  -- 3. an error raised inside onreceive stops the socket for good (websocket_class.cpp: consolePrint + ws->stop())
  describe("3. errors inside handlers", function()
    it("survives a progress answer without done/total", function()
      local dlg, st, ws = dialog()
      dlg:_click("generate")
      local req = ws:_last()
      ws:_text(json.encode{ id = req.id, type = "progress", unit = "steps" })
      assert.are.equal("open", ws.state)
      assert.are.same({}, stub.console)
      local px = rgba(16, 16, function() return 1, 2, 3, 255 end)
      assert.is_true(ws:_text(result_frame(req.id, { px }, 16, 16)))
      assert.are.equal(1, #st.images)
    end)
    it("keeps the socket when a handler raises, and reports the error", function()
      local conn, ws = ready_connection()
      local reported
      conn.on_bug = function(text) reported = text end
      conn:send(protocol.models("m1"), { on_result = function() error("boom") end })
      ws:_text(json.encode{ id = "m1", type = "result", op = "models", models = {} })
      assert.are.equal("open", ws.state)
      assert.are.same({}, stub.console)
      assert.truthy(reported:find("boom"))
      local got
      conn:send(protocol.models("m2"), { on_result = function(r) got = r.id end })
      ws:_text(json.encode{ id = "m2", type = "result", op = "models", models = {} })
      assert.are.equal("m2", got)
    end)
    it("reports a request on a socket that broke instead of raising from sendText", function()
      local dlg, _, ws = dialog()
      ws:_drop(true)  -- the network broke; Aseprite has not delivered the CLOSE yet
      dlg:_click("generate")
      assert.are.same({}, stub.console)
      assert.truthy(dlg._w.status.text:find("connect"))
      assert.is_false(dlg._w.cancel.enabled)
    end)
  end)

  -- 4. refusing the network permission makes WebSocket{} raise (websocket_class.cpp ask_access, security.cpp)
  describe("4. network permission", function()
    it("explains a refused permission and asks again on Reconnect", function()
      stub.access.socket = false
      local conn = connection.new{ url = "ws://127.0.0.1:8737" }
      local dlg = dialogs.generate{ conn = conn, prefs = {}, palettes = {} }
      assert.is_true(dlg.visible)
      assert.are.equal("error", conn.state)
      assert.truthy(dlg._w.status.text:find("allow"))
      assert.are.equal(1, #stub.prompts)
      stub.access.socket = true
      dlg:_click("reconnect")
      assert.are.equal(2, #stub.prompts)
      local ws = stub.sockets[1]
      ws:_open()
      ws:_text(json.encode{ id = ws:_last().id, type = "result", op = "hello", version = "0.1.0", protocol = 1 })
      assert.are.equal("ready", conn.state)
    end)
    it("asks again when the next dialog opens", function()
      stub.access.socket = false
      local conn = connection.new{ url = "ws://127.0.0.1:8737" }
      dialogs.generate{ conn = conn, prefs = {}, palettes = {} }:close()
      stub.access.socket = true
      dialogs.palette{ conn = conn, prefs = {}, palettes = {} }
      assert.are.equal(2, #stub.prompts)
      assert.are.equal("connecting", stub.sockets[1].state)
    end)
  end)

  -- 5. file widgets return full paths; io.open raises on refusal (dialog_class.cpp Dialog_file, security.cpp)
  describe("5. Save .gpl", function()
    local function proposed()
      local dlg, st, ws = dialog(nil, "palette")
      dlg:_click("propose")
      local req = ws:_last()
      ws:_text(json.encode{ id = req.id, type = "result", op = "palette", model = "vae16", sample_count = 8,
                            colors = { "#000000", "#ff8000" }, format = "gpl", file = b64.encode("GIMP Palette\n") })
      return dlg, st
    end
    it("gives the user an entry and a save dialog for the file name", function()
      local dlg = proposed()
      assert.is_true(dlg._w.path.entry)
      assert.is_true(dlg._w.path.save)
    end)
    it("writes nothing until the user chose a file name", function()
      local dlg = proposed()
      dlg:_click("save")
      assert.is_nil(stub.real.open(stub.current_path .. "/pixelsprite.gpl", "rb"))
      assert.truthy(dlg._w.status.text:find("file name"))
      for _, p in ipairs(stub.prompts) do assert.are_not.equal("write", p.mode) end
    end)
    it("saves under a typed name, adding .gpl", function()
      local dlg = proposed()
      dlg:_type("path", "mine")
      dlg:_click("save")
      local f = assert(stub.real.open(stub.current_path .. "/mine.gpl", "rb"))
      assert.are.equal("GIMP Palette\n", f:read("a"))
      f:close()
    end)
    it("says so when Aseprite is not allowed to write the file", function()
      local dlg = proposed()
      stub.access.write = false
      dlg:_browse("path", stub.current_path .. "/denied.gpl")
      dlg:_click("save")
      assert.are.same({}, stub.console)
      assert.truthy(dlg._w.status.text:find("not allowed"))
      assert.is_nil(stub.real.open(stub.current_path .. "/denied.gpl", "rb"))
    end)
  end)

  -- 6. Dialog.data holds buttons' booleans and labels' text; modify{option=} ignores an unknown option and
  --    modify{options=} fires onchange (dialog_class.cpp Dialog_get_data / Dialog_modify, ui/combobox.cpp)
  describe("6. dialog data and comboboxes", function()
    it("remembers only the form's fields, and they survive a restart", function()
      local prefs = {}
      local conn, ws = ready_connection()
      local dlg = dialogs.generate{ conn = conn, prefs = prefs, palettes = {} }
      answer_models(ws)
      dlg:_type("count", "3")
      dlg:_click("generate")
      local want = { model = "vae16", count = 3, seed = 1, palette = "None", insert = "New sprite", steps = 0,
                     guidance = 0.0, temperature = 0.0, dither = "none", despeckle = false, outline = "None",
                     candidates = 1 }
      assert.are.same(want, prefs.generate)
      assert.are.same(want, stub.reload_preferences(prefs).generate)
    end)
    it("keeps only form fields for Palette from Model", function()
      local prefs = {}
      local conn, ws = ready_connection()
      local dlg = dialogs.palette{ conn = conn, prefs = prefs, palettes = {} }
      answer_models(ws)
      dlg:_click("propose")
      assert.are.same({ model = "vae16", count = 64, colors = 16, seed = 1, method = "kmeans" },
                      prefs.palette_from_model)
    end)
    it("follows the model Aseprite selected when the default one is not in the list", function()
      local conn, ws = ready_connection()
      local dlg = dialogs.generate{ conn = conn, prefs = { generate = { model = "gone" } }, palettes = {} }
      answer_models(ws, { { name = "teacher", size = { 40, 40 }, operations = { "score" } },
                          { name = "flow16", size = { 16, 16 }, labels = { "item", "mon" },
                            parameters = { "label", "steps" }, operations = { "generate" } } }, "teacher")
      assert.are.equal("flow16", dlg.data.model)
      assert.are.same({ "(any)", "item", "mon" }, dlg._w.label.options)
      dlg:_choose("label", "mon")
      dlg:_click("generate")
      assert.are.same({ "flow16", "mon" }, { ws:_last().model, ws:_last().label })
    end)
  end)

  -- 7. the old socket's CLOSE arrives after the new socket exists (websocket_class.cpp execute_from_ui_thread)
  describe("7. reconnect", function()
    it("ties each CLOSE to its own socket", function()
      local dlg, _, old, conn = dialog()
      stub.auto_close_reply = false          -- the old server answers our close frame late
      dlg:_type("url", "ws://127.0.0.1:9000")
      dlg:_click("reconnect")
      local new = stub.sockets[#stub.sockets]
      assert.are_not.equal(old, new)
      new:_open()
      local hello = new:_last()
      assert.are.equal("hello", hello.op)
      old:_close_reply()                     -- now the old socket's CLOSE runs
      new:_text(json.encode{ id = hello.id, type = "result", op = "hello", version = "0.2.0", protocol = 1 })
      assert.are.equal("ready", conn.state)
      assert.truthy(dlg._w.status.text:find("Connected to ws://127.0.0.1:9000", 1, true))
      assert.are.equal("models", new:_last().op)
    end)
    it("fails what was in flight on the old socket once, and ignores that socket afterwards", function()
      local dlg, st, old = dialog()
      dlg:_click("generate")
      local req = old:_last()
      stub.auto_close_reply = false
      dlg:_click("reconnect")
      assert.is_nil(st.request)
      assert.is_false(dlg._w.cancel.enabled)
      assert.truthy(dlg._w.status.text:find("Connecting"))
      old:_close_reply()
      assert.truthy(dlg._w.status.text:find("Connecting"))
      assert.are.equal("connecting", stub.sockets[#stub.sockets].state)
      assert.are.same({}, stub.console)
      assert.is_false(old:_text(result_frame(req.id, {}, 16, 16)))
    end)
  end)

  -- 8. Image.bytes is rowStride * height bytes (image_class.cpp, api/image.md)
  describe("8. Image.bytes", function()
    it("writes and reads images whose rows are padded", function()
      stub.row_padding = 8
      local px = rgba(3, 2, function(x, y) return x, y, 7, 255 end)
      local img = document.image{ width = 3, height = 2, bytes = px }
      assert.are.same({ 2, 1, 7, 255 }, { img:getPixelRGBA(2, 1) })
      assert.are.equal((3 * 4 + 8) * 2, #img.bytes)
      local s = Sprite(3, 2, ColorMode.RGB)
      local cel = s:newCel(s.layers[1], 1, img, Point(0, 0))
      assert.are.equal(px, document.cel_rgba(cel, 3, 2))
    end)
  end)

  it("says which Aseprite it needs when the json API is missing (before v1.3-rc5)", function()
    local G = debug.getregistry()[2]  -- the real globals (busted runs specs in their own environment)
    local saved = G.json
    G.json = nil
    local commands = 0
    local plugin = { path = ROOT:sub(1, -2), preferences = {}, newCommand = function() commands = commands + 1 end,
                     newMenuGroup = function() end }
    dofile(ROOT .. "plugin.lua")
    local ok = pcall(G.init, plugin)
    G.json = saved
    assert.are.equal(0, commands)
    assert.is_true(ok)
    assert.truthy(tostring(stub.alerts[1]):find("1.3-rc5", 1, true))
  end)
end)
