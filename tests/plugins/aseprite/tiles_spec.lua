-- busted specs for seamless tiles (issue 19) in the Aseprite extension, against the test double of Aseprite's API in
-- stub/ (rebuilt from Aseprite's source: tilesets and tiles from tileset_class.cpp / tile_class.cpp, tilemap layers
-- from cmd_new_layer.cpp through app.command, Sprite:newTile from sprite_class.cpp, app.apiVersion from
-- api_version.h at the tags that brought each piece).
-- A model whose catalog entry has `tiling: true` (docs/protocol.md) makes tiles: the dialogs show each one repeated
-- 3x3, and Insert as "New tilemap" puts them into a new sprite's tilemap layer (or, without the tilemap API, on the
-- sprite's grid in an image layer).
-- Run from the repository root: busted tests/plugins/aseprite
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local STUB_DIR = here .. "stub"
local ROOT = here .. "../../../plugins/aseprite/"
package.path = ROOT .. "?.lua;" .. package.path

local stub = assert(loadfile(STUB_DIR .. "/aseprite.lua"))(STUB_DIR)
local b64 = require("b64")
local connection = require("connection")
local document = require("document")
local dialogs = require("dialogs")

local function rgba(w, h, fn)
  local t = {}
  for y = 0, h - 1 do for x = 0, w - 1 do t[#t + 1] = string.char(fn(x, y)) end end
  return table.concat(t)
end

-- Tile i: a colour of its own in every pixel, and its coordinates, so that each tile and each pixel differ.
local function tile(i, w, h)
  return rgba(w or 16, h or 16, function(x, y) return 10 * i, x, y, 255 end)
end

local function tiles(n, w, h)
  local out = {}
  for i = 1, n do out[i] = { width = w or 16, height = h or 16, bytes = tile(i, w, h) } end
  return out
end

local MODELS = {
  { name = "vae16", family = "vae", size = { 16, 16 }, operations = { "generate", "variations" }, parameters = {},
    tiling = false },
  { name = "tiles16", family = "pixel", size = { 16, 16 }, operations = { "generate", "variations", "inpaint" },
    parameters = { "label", "steps", "solver", "guidance", "temperature" }, labels = { "floor", "wall", "water" },
    tiling = true },
  { name = "tiles32", family = "pixel", size = { 32, 32 }, operations = { "generate", "variations", "inpaint" },
    parameters = { "label", "steps", "solver", "guidance", "temperature" }, labels = { "floor", "wall", "water" },
    tiling = true },
}

local function ready_connection(features)
  local conn = connection.new{ url = "ws://127.0.0.1:8737" }
  conn:connect()
  local ws = stub.sockets[#stub.sockets]
  ws:_open()
  ws:_text(json.encode{ id = ws:_last().id, type = "result", op = "hello", server = "pixelsprite", version = "0.1.0",
                        protocol = 1, features = features or { "preview" },
                        operations = { "hello", "models", "generate", "variations", "inpaint", "interpolate",
                                       "palette", "cancel" } })
  return conn, ws
end

-- A dialog (generate by default) with the models above; `model` is chosen by the user when given.
local function open(opts)
  opts = opts or {}
  local conn, ws = ready_connection(opts.features)
  local prefs = opts.prefs or {}
  local dlg, st = dialogs[opts.which or "generate"]{ conn = conn, prefs = prefs, palettes = { "pico-8" } }
  local req = ws:_last()
  assert.are.equal("models", req.op)
  ws:_text(json.encode{ id = req.id, type = "result", op = "models", default = "vae16", models = MODELS })
  if opts.model then dlg:_choose("model", opts.model) end
  return dlg, st, ws, prefs
end

local function result_frame(id, images, w, h, op)
  local msg = { id = id, type = "result", op = op or "generate", size = { w, h }, image_format = "rgba",
                images = {}, seeds = {}, timing = { total_ms = 2.5 } }
  for i, bytes in ipairs(images) do msg.images[i] = b64.encode(bytes); msg.seeds[i] = 6 + i end
  return json.encode(msg)
end

local function preview_frame(id, images, w, h)
  local msg = { id = id, type = "progress", done = 1, total = 4, unit = "steps", count = #images, size = { w, h },
                image_format = "rgba", images = {} }
  for i, bytes in ipairs(images) do msg.images[i] = b64.encode(bytes) end
  return json.encode(msg)
end

-- Generates n tiles of w x h with the open dialog and answers with tiles 1..n.
local function generated(dlg, ws, n, w, h)
  dlg:_type("count", tostring(n))
  dlg:_click("generate")
  local req = ws:_last()
  local px = {}
  for i = 1, n do px[i] = tile(i, w, h) end
  ws:_text(result_frame(req.id, px, w or 16, h or 16))
  return req, px
end

before_each(function() stub.reset() end)
-- Aseprite prints errors raised inside dialog and socket callbacks to its console instead of failing: none expected
after_each(function() assert.are.same({}, stub.console) end)

describe("the preview of a tile model", function()
  it("shows each tile repeated 3x3, edge to edge at one whole-number scale", function()
    local dlg, st, ws = open{ model = "tiles16" }
    local _, px = generated(dlg, ws, 2)
    local gc = dlg._w.preview.gc
    assert.are.equal(2 * 9, #gc.drawn)
    local s = st.layout.scale
    assert.truthy(s >= 1)
    for i = 1, 2 do
      local first = gc.drawn[(i - 1) * 9 + 1]
      for k = 1, 9 do
        local d = gc.drawn[(i - 1) * 9 + k]
        assert.are.equal(px[i], d.image.bytes)                 -- the same tile nine times
        assert.is_false(d.antialias)
        assert.are.same({ 0, 0, 16, 16 }, { d.src.x, d.src.y, d.src.width, d.src.height })
        assert.are.same({ 16 * s, 16 * s }, { d.dst.width, d.dst.height })
        -- copy k sits at column (k-1) % 3, row (k-1) // 3 of its cell, touching its neighbours: no gap, no overlap
        assert.are.equal(first.dst.x + ((k - 1) % 3) * 16 * s, d.dst.x)
        assert.are.equal(first.dst.y + ((k - 1) // 3) * 16 * s, d.dst.y)
        assert.truthy(d.dst.x + d.dst.width <= gc.width and d.dst.y + d.dst.height <= gc.height)
      end
    end
    -- the two cells do not overlap: the second starts where the first one's 3x3 ends
    local a, b = gc.drawn[1].dst, gc.drawn[10].dst
    assert.truthy(b.x >= a.x + 3 * 16 * s or b.y >= a.y + 3 * 16 * s)
    assert.truthy(dlg._w.status.text:find("2 tile(s), each repeated 3x3", 1, true))
  end)

  it("picks a tile by a click anywhere on its 3x3, and frames the whole 3x3", function()
    local dlg, st, ws = open{ model = "tiles16" }
    generated(dlg, ws, 3)
    local corner = dlg._w.preview.gc.drawn[2 * 9].dst  -- the last copy (bottom right) of tile 2
    dlg:_mousedown("preview", corner.x + corner.width - 1, corner.y + corner.height - 1)
    assert.are.same({ [2] = true }, st.picked)
    assert.are.equal(1, dlg._w.preview.gc.stroked)
    assert.are.same({ st.layout.cell_w, st.layout.cell_h }, { 48, 48 })
  end)

  it("repeats the previews that arrive while the tile model works, which cannot be picked", function()
    local dlg, st, ws = open{ model = "tiles16" }
    dlg:_type("count", "2")
    dlg:_click("generate")
    local req = ws:_last()
    assert.are.same({ "generate", "tiles16", true }, { req.op, req.model, req.preview })
    ws:_text(preview_frame(req.id, { tile(1), tile(2) }, 16, 16))
    assert.are.equal(18, #dlg._w.preview.gc.drawn)
    dlg:_mousedown("preview", 1, 1)
    assert.are.same({}, st.picked)
  end)

  it("shows a sprite model's results once each, not repeated", function()
    local dlg, st, ws = open()
    assert.are.equal("vae16", dlg.data.model)
    generated(dlg, ws, 3)
    assert.are.equal(3, #dlg._w.preview.gc.drawn)
    assert.are.same({ 16, 16 }, { st.layout.cell_w, st.layout.cell_h })
    assert.truthy(dlg._w.status.text:find("3 sprite(s)", 1, true))
    assert.is_nil(dlg._w.status.text:find("3x3"))
  end)

  it("keeps showing tiles repeated after the user picks a sprite model, until the next answer", function()
    local dlg, st, ws = open{ model = "tiles16" }
    generated(dlg, ws, 1)
    dlg:_choose("model", "vae16")
    dlg:repaint()
    assert.are.equal(9, #dlg._w.preview.gc.drawn)
    generated(dlg, ws, 1)
    assert.are.equal(1, #dlg._w.preview.gc.drawn)
    assert.is_false(st.tiled)
  end)

  it("wraps 3x3 cells that do not fit at scale 1 and says to make the dialog taller", function()
    local lay = dialogs.grid_layout(8, 96, 96, 256, 128)
    assert.are.same({ cols = 2, rows = 4, scale = 1, fits = false }, lay)
    assert.are.equal(3, dialogs.hit(lay, 96, 96, 1, 97, 8))
    local dlg, _, ws = open{ model = "tiles32" }
    generated(dlg, ws, 8, 32, 32)
    assert.are.equal(8 * 9, #dlg._w.preview.gc.drawn)
    assert.truthy(dlg._w.status.text:find("taller"))
  end)

  it("shows Repaint Selection's candidates of a tile model repeated 3x3", function()
    local s = Sprite(16, 16, ColorMode.RGB)
    app.activeCel = s:newCel(s.layers[1], 1, Image(16, 16, ColorMode.RGB), Point(0, 0))
    s.selection:select(Rectangle(4, 4, 8, 8))
    local dlg, _, ws = open{ which = "repaint", model = "tiles16" }
    dlg:_type("count", "2")
    dlg:_click("generate")
    local req = ws:_last()
    assert.are.same({ "inpaint", "tiles16" }, { req.op, req.model })
    ws:_text(result_frame(req.id, { tile(1), tile(2) }, 16, 16, "inpaint"))
    assert.are.equal(18, #dlg._w.preview.gc.drawn)
  end)
end)

describe("Insert as New tilemap", function()
  -- every edit inside the one transaction (one Undo takes it all back)
  local function one_transaction()
    assert.are.equal(1, #stub.transactions)
    for _, e in ipairs(stub.edits) do assert.is_true(e.inside, e.what) end
  end

  it("is chosen for a tile model and given back for a sprite model", function()
    local dlg = open()
    assert.are.equal("New sprite", dlg.data.insert)
    dlg:_choose("model", "tiles16")
    assert.are.equal("New tilemap", dlg.data.insert)
    dlg:_choose("model", "tiles32")
    assert.are.equal("New tilemap", dlg.data.insert)
    dlg:_choose("model", "vae16")
    assert.are.equal("New sprite", dlg.data.insert)
  end)

  it("puts the tiles into a tileset and a tilemap layer whose cel references them, grid = tile size", function()
    local ims = tiles(5)
    local sprite, how = document.insert(ims, "tilemap", { name = "pixelsprite tiles16" })
    assert.are.equal("tilemap", how)
    -- a near-square map: 3 x 2 tiles of 16 x 16
    assert.are.same({ 48, 32, 1 }, { sprite.width, sprite.height, #sprite.frames })
    assert.are.same({ x = 0, y = 0, width = 16, height = 16 }, sprite.gridBounds)
    assert.are.equal(1, #sprite.layers)  -- the default image layer is gone
    local layer = sprite.layers[1]
    assert.is_true(layer.isTilemap)
    assert.are.equal("pixelsprite tiles", layer.name)
    local ts = layer.tileset
    assert.are.equal(ts, sprite.tilesets[1])
    assert.are.equal("pixelsprite tiles16", ts.name)
    assert.are.same({ width = 16, height = 16 }, ts.grid.tileSize)
    -- tile 0 is Aseprite's empty tile; tiles 1..5 are the generated ones, byte for byte
    assert.are.equal(6, #ts)
    assert.are.equal(string.rep("\0", 16 * 16 * 4), ts:tile(0).image.bytes)
    for i = 1, 5 do assert.are.equal(ims[i].bytes, ts:tile(i).image.bytes) end
    -- the map: tile indices, row major; the sixth cell stays empty
    local cel = layer:cel(1)
    assert.are.equal(ColorMode.TILEMAP, cel.image.colorMode)
    assert.are.same({ 3, 2 }, { cel.image.width, cel.image.height })
    assert.are.same({ 1, 2, 3, 4, 5, 0 }, { cel.image:getPixel(0, 0), cel.image:getPixel(1, 0),
      cel.image:getPixel(2, 0), cel.image:getPixel(0, 1), cel.image:getPixel(1, 1), cel.image:getPixel(2, 1) })
    assert.are.same({ x = 0, y = 0, width = 48, height = 32 }, cel.bounds)
    one_transaction()
  end)

  it("inserts the picked tiles from the dialog into a new sprite's tilemap", function()
    local dlg, st, ws = open{ model = "tiles16" }
    local _, px = generated(dlg, ws, 3)
    for _, i in ipairs{ 1, 3 } do
      local d = dlg._w.preview.gc.drawn[(i - 1) * 9 + 5].dst  -- the middle copy
      dlg:_mousedown("preview", d.x + 1, d.y + 1)
    end
    assert.are.same({ [1] = true, [3] = true }, st.picked)
    dlg:_click("insert_button")
    local sprite = app.activeSprite
    local ts = sprite.layers[1].tileset
    assert.are.same({ 3, px[1], px[3] }, { #ts, ts:tile(1).image.bytes, ts:tile(2).image.bytes })
    assert.are.equal("pixelsprite tiles16", ts.name)
    assert.truthy(dlg._w.status.text:find("Inserted 2 tile(s) of 16x16 into a new sprite's tilemap layer", 1, true))
    assert.is_true(dlg.visible)
  end)

  it("works on Aseprite v1.3-rc1 and rc2 too, whose NewLayer ignores gridBounds: the sprite's grid is set first", function()
    stub.api_version = 21
    local sprite, how = document.insert(tiles(2, 8, 8), "tilemap")
    assert.are.equal("tilemap", how)
    assert.are.same({ width = 8, height = 8 }, sprite.layers[1].tileset.grid.tileSize)
    one_transaction()
  end)

  it("lays the tiles out on the grid of an image layer where Aseprite cannot script tilemaps (before v1.3-rc1)", function()
    stub.api_version = 20  -- v1.3-beta21: no Sprite:newTile (reading it would raise, as luacpp.cpp does)
    assert.is_false((document.tilemaps()))
    local ims = tiles(3)
    local sprite, how = document.insert(ims, "tilemap")
    assert.are.equal("grid", how)
    assert.are.same({ 32, 32, 1, 0 }, { sprite.width, sprite.height, #sprite.layers, #sprite.tilesets })
    assert.are.same({ x = 0, y = 0, width = 16, height = 16 }, sprite.gridBounds)
    local layer = sprite.layers[1]
    assert.is_false(layer.isTilemap)
    assert.are.equal("pixelsprite tiles", layer.name)
    local sheet = layer:cel(1).image
    assert.are.same({ 10, 0, 0, 255 }, { sheet:getPixelRGBA(0, 0) })      -- tile 1 at (0, 0)
    assert.are.same({ 20, 3, 4, 255 }, { sheet:getPixelRGBA(16 + 3, 4) })  -- tile 2 at (16, 0)
    assert.are.same({ 30, 0, 15, 255 }, { sheet:getPixelRGBA(0, 16 + 15) }) -- tile 3 at (0, 16)
    assert.are.same({ 0, 0, 0, 0 }, { sheet:getPixelRGBA(16, 16) })        -- the empty fourth cell
    one_transaction()
  end)

  it("says in the dialog why the tiles went onto a grid instead", function()
    stub.api_version = 20
    local dlg, _, ws = open{ model = "tiles16" }
    generated(dlg, ws, 2)
    dlg:_click("insert_button")
    assert.truthy(dlg._w.status.text:find("v1.3-rc1", 1, true))
    assert.truthy(dlg._w.status.text:find("2 tile(s) went into a new sprite on a 16x16 grid", 1, true))
    assert.is_false(app.activeSprite.layers[1].isTilemap)
  end)

  it("falls back to the grid when no tilemap layer appears (NewLayer disabled: app.command still returns true)", function()
    stub.disabled_commands.NewLayer = true
    local sprite, how = document.insert(tiles(2), "tilemap")
    assert.are.equal("grid", how)
    assert.are.same({ 1, false, 0 }, { #sprite.layers, sprite.layers[1].isTilemap, #sprite.tilesets })
    one_transaction()
  end)

  it("keeps the other insert modes for tiles (one frame per tile in a new sprite)", function()
    local dlg, _, ws = open{ model = "tiles16" }
    local _, px = generated(dlg, ws, 2)
    dlg:_choose("insert", "New sprite")
    dlg:_click("insert_button")
    local s = app.activeSprite
    assert.are.same({ 2, px[2] }, { #s.frames, s.layers[1]:cel(2).image.bytes })
  end)
end)

describe("variations of a tile in a tilemap", function()
  it("sends the tile under the selection's corner, read from the tileset", function()
    local ims = tiles(4)
    local sprite = document.insert(ims, "tilemap")
    local layer = sprite.layers[1]
    app.activeCel = layer:cel(1)
    sprite.selection:select(Rectangle(16, 16, 16, 16))  -- the map's second row, second column: tile 4
    local dlg, _, ws = open{ which = "variations", model = "tiles16" }
    dlg:_click("generate")
    local req = ws:_last()
    assert.are.same({ "variations", "tiles16" }, { req.op, req.model })
    assert.are.equal(ims[4].bytes, b64.decode(req.image.rgba))
    -- variations of a tile go back as a new tilemap by default
    assert.are.equal("New tilemap", dlg.data.insert)
  end)

  it("says so when the corner is on an empty cell or outside the map, and sends nothing", function()
    local sprite = document.insert(tiles(3), "tilemap")
    app.activeCel = sprite.layers[1]:cel(1)
    local dlg, _, ws = open{ which = "variations", model = "tiles16" }
    local sent = #ws.sent
    sprite.selection:select(Rectangle(16, 16, 4, 4))  -- the fourth cell holds no tile
    dlg:_click("generate")
    assert.truthy(dlg._w.status.text:find("no tile"))
    sprite.selection:select(Rectangle(40, 40, 4, 4))   -- past the map
    dlg:_click("generate")
    assert.truthy(dlg._w.status.text:find("outside the tilemap"))
    assert.are.equal(sent, #ws.sent)
    assert.is_true(dlg.visible)
  end)
end)

describe("errors with tiles keep the dialog", function()
  it("says to generate first when there are no tiles to insert", function()
    local dlg = open{ model = "tiles16" }
    dlg:_click("insert_button")
    assert.truthy(dlg._w.status.text:find("Generate first"))
    assert.is_nil(app.activeSprite)
    assert.is_true(dlg.visible)
  end)

  it("says so when the server sends no tiles, and nothing can be inserted", function()
    local dlg, st, ws = open{ model = "tiles16" }
    dlg:_click("generate")
    ws:_text(result_frame(ws:_last().id, {}, 16, 16))
    assert.truthy(dlg._w.status.text:find("sent no tiles"))
    assert.are.equal(0, #st.images)
    dlg:_click("insert_button")
    assert.truthy(dlg._w.status.text:find("Generate first"))
    assert.is_nil(app.activeSprite)
    assert.is_true(dlg.visible)
  end)

  it("explains a server error, clears the tile previews, and generates again", function()
    local dlg, st, ws = open{ model = "tiles16" }
    dlg:_click("generate")
    local req = ws:_last()
    ws:_text(preview_frame(req.id, { tile(1) }, 16, 16))
    assert.are.equal(9, #dlg._w.preview.gc.drawn)
    ws:_text(json.encode{ id = req.id, type = "error", code = "unsupported_parameter", field = "label",
                          message = "tiles16 has no label 'lava'" })
    assert.truthy(dlg._w.status.text:find("lava", 1, true))
    assert.is_false(dlg._w.cancel.enabled)
    assert.are.same({}, st.preview)
    assert.are.equal(0, #dlg._w.preview.gc.drawn)
    assert.is_true(dlg.visible)
    assert.are.equal("open", ws.state)
    generated(dlg, ws, 1)
    assert.are.equal(9, #dlg._w.preview.gc.drawn)
  end)

  it("reports tiles of the wrong size without inserting anything", function()
    local dlg, st, ws = open{ model = "tiles16" }
    dlg:_click("generate")
    ws:_text(result_frame(ws:_last().id, { "\1\2\3\4" }, 16, 16))
    assert.truthy(dlg._w.status.text:find("expected 1024"))
    assert.are.equal(0, #st.images)
    assert.is_true(dlg.visible)
  end)
end)
