-- Document edits: turns raw RGBA results into images, cels, layers, frames and palettes.
-- Every change to a sprite happens inside one app.transaction, so one Undo takes it back.
local protocol = require("protocol")

local M = {}

-- Image.bytes holds image.rowStride * image.height bytes (image_class.cpp, api/image.md): rows may be longer than
-- width * 4. Current builds use exactly width * 4, but that is not promised, so both directions go row by row when
-- the stride differs, and the length is checked rather than assumed.
local function check_length(img, bytes)
  local want = img.rowStride * img.height
  assert(#bytes == want, string.format("Image.bytes has %d bytes, expected rowStride %d x height %d",
    #bytes, img.rowStride, img.height))
end

-- Sets an RGB image's pixels from raw RGBA bytes (width * height * 4, row-major).
function M.set_rgba(img, bytes)
  local row, stride = img.width * 4, img.rowStride
  assert(#bytes == row * img.height, "RGBA byte count does not match width x height")
  if stride ~= row then
    local pad, rows = string.rep("\0", stride - row), {}
    for y = 0, img.height - 1 do rows[#rows + 1] = bytes:sub(y * row + 1, (y + 1) * row) .. pad end
    bytes = table.concat(rows)
  end
  img.bytes = bytes
  check_length(img, img.bytes)
end

-- An RGB image's pixels as raw RGBA bytes (width * height * 4, row-major), without row padding.
function M.rgba(img)
  local bytes, row, stride = img.bytes, img.width * 4, img.rowStride
  check_length(img, bytes)
  if stride == row then return bytes end
  local rows = {}
  for y = 0, img.height - 1 do rows[#rows + 1] = bytes:sub(y * stride + 1, y * stride + row) end
  return table.concat(rows)
end

function M.image(result_image)
  local img = Image(result_image.width, result_image.height, ColorMode.RGB)
  M.set_rgba(img, result_image.bytes)
  return img
end

-- Where results go and inputs come from in the active sprite: the selection's top-left corner, else (0, 0).
function M.origin()
  local sprite = app.activeSprite
  if sprite and sprite.selection and not sprite.selection.isEmpty then
    local b = sprite.selection.bounds
    return Point(b.x, b.y)
  end
  return Point(0, 0)
end

-- Tilemaps. The scripting API the tile insert uses, and the Aseprite that brought it (app.apiVersion, from
-- src/app/script/api_version.h at each tag): ColorMode.TILEMAP, Layer.isTilemap / Layer.tileset, Tileset.grid and
-- app.command.NewLayer{ tilemap = true } (v1.3-beta1, API <= 20); Sprite:newTile and the Tile.image setter (v1.3-rc1,
-- API 21); NewLayer's gridBounds (v1.3-rc3, API 23; before it, the new tileset takes the sprite's grid, which is set
-- first). The extension needs v1.3-rc5 (API 25) anyway, so the tilemap path is the normal one; the check guards
-- against a build without it. Reading a field an Aseprite object lacks raises (luacpp.cpp), so versions are told
-- by app.apiVersion, not by probing.
M.TILEMAP_API = 21
M.TILE_INDEX_MASK = 0x1fffffff  -- doc/tile.h tile_i_mask: the high 3 bits of a tilemap pixel are flip flags

-- Whether this Aseprite can script tilemaps (true), else false and a sentence.
function M.tilemaps()
  local ok, version = pcall(function() return app.apiVersion end)
  if ok and (tonumber(version) or 0) >= M.TILEMAP_API and ColorMode.TILEMAP ~= nil then return true end
  return false, "This Aseprite cannot script tilemaps (that needs v1.3-rc1 or newer)"
end

-- The tile of a tilemap cel under a sprite point, as an RGB image, or nil and a sentence.
local function tile_at(cel, point)
  local ts = cel.layer.tileset
  local size = ts.grid.tileSize
  local col = (point.x - cel.position.x) // size.width
  local row = (point.y - cel.position.y) // size.height
  local map = cel.image
  if col < 0 or row < 0 or col >= map.width or row >= map.height then
    return nil, "The selection's corner is outside the tilemap; select a tile first."
  end
  local ti = map:getPixel(col, row) & M.TILE_INDEX_MASK
  local tile = ti > 0 and ts:tile(ti)
  if not tile then return nil, "There is no tile at the selection's corner; select a tile first." end
  return tile.image
end

-- Raw RGBA bytes of a width x height window of a cel's sprite starting at `origin`, or nil and a message
-- (the input of variations and interpolate). In a tilemap layer: the tile under `origin` (from the tileset; the
-- tilemap's own pixels are tile indices).
function M.cel_rgba(cel, width, height, origin)
  if not cel then return nil, "Select a cel (a layer with pixels in the current frame) first." end
  if cel.sprite.colorMode ~= ColorMode.RGB then return nil, "The sprite must be in RGB mode (Sprite > Color Mode)." end
  origin = origin or Point(0, 0)
  local img = Image(width, height, ColorMode.RGB)
  if cel.layer.isTilemap then
    local tile, err = tile_at(cel, origin)
    if not tile then return nil, err end
    img:drawImage(tile, Point(0, 0))
  else
    img:drawImage(cel.image, Point(cel.position.x - origin.x, cel.position.y - origin.y))
  end
  return M.rgba(img)
end

-- Repaint Selection: the sprite's selection as an inpainting mask, and the cel the repainted pixels go into.
local WHITE, BLACK = "\255\255\255\255", "\0\0\0\255"

-- The sprite's selection as a 1-bit mask of the sprite's size (raw RGBA: opaque white where selected, opaque black
-- elsewhere) and the number of selected pixels, or nil and a sentence. Selection:contains and Selection.bounds are
-- Aseprite's (selection_class.cpp); a selection may reach past the canvas, whose pixels do not count.
function M.selection_mask(sprite)
  local sel = sprite.selection
  if sel.isEmpty then
    return nil, "Select the pixels to repaint first (any selection tool), then press Repaint."
  end
  local b = sel.bounds
  local px, n = {}, 0
  for y = 0, sprite.height - 1 do
    for x = 0, sprite.width - 1 do
      local inside = x >= b.x and y >= b.y and x < b.x + b.width and y < b.y + b.height and sel:contains(x, y)
      if inside then n = n + 1 end
      px[#px + 1] = inside and WHITE or BLACK
    end
  end
  if n == 0 then return nil, "The selection is outside the canvas; select pixels of the sprite to repaint." end
  return table.concat(px), n
end

-- Where a repaint goes: the active cel's layer and frame (the cel itself may not exist yet: an empty cel then gets
-- one), or nil and a sentence.
function M.repaint_target(sprite)
  if not sprite then return nil, "Open a sprite first." end
  if sprite.colorMode ~= ColorMode.RGB then
    return nil, "The sprite must be in RGB mode (Sprite > Color Mode > RGB) to repaint it."
  end
  local cel = app.activeCel
  local layer = cel and cel.layer or app.activeLayer
  local frame = cel and cel.frameNumber or (app.activeFrame and app.activeFrame.frameNumber)
  if not layer or not frame or not layer.isImage or layer.isTilemap then
    return nil, "Select an image layer (not a group or tilemap) to repaint in."
  end
  return { sprite = sprite, layer = layer, frame = frame }
end

-- The target cel's pixels at the sprite's size (raw RGBA; transparent where the cel has none, or without a cel).
function M.target_rgba(target)
  local w, h = target.sprite.width, target.sprite.height
  local cel = target.layer:cel(target.frame)
  if not cel then return string.rep("\0", w * h * 4) end
  return M.cel_rgba(cel, w, h, Point(0, 0))
end

-- Keeps `base` (raw RGBA) where `mask` (selection_mask's bytes) is black and takes `repainted` where it is white.
function M.masked(base, repainted, mask)
  local out = {}
  for i = 1, #mask, 4 do
    out[#out + 1] = (mask:byte(i) == 255 and repainted or base):sub(i, i + 3)
  end
  return table.concat(out)
end

-- Puts a repainted sprite (raw RGBA of the sprite's size) into the target cel: only the pixels of `mask`; every
-- other pixel stays what the cel holds now, exactly. One transaction (one Undo). The cel gets an image of the
-- sprite's size at (0, 0): Cel.image = img replaces its image with a copy and Cel.position moves it
-- (cel_class.cpp); without a cel, Sprite:newCel makes one (sprite_class.cpp). Returns true, or nil and a sentence.
function M.repaint(target, repainted, mask)
  local w, h = target.sprite.width, target.sprite.height
  if #repainted ~= w * h * 4 or #mask ~= w * h * 4 then
    return nil, "The repainted sprite does not have the sprite's size any more (was the canvas resized?)."
  end
  local img = Image(w, h, ColorMode.RGB)
  M.set_rgba(img, M.masked(M.target_rgba(target), repainted, mask))
  app.transaction("pixelsprite: repaint selection", function()
    local cel = target.layer:cel(target.frame)
    if cel then
      cel.image = img
      cel.position = Point(0, 0)
    else
      target.sprite:newCel(target.layer, target.frame, img, Point(0, 0))
    end
  end)
  app.refresh()
  return true
end

-- The active sprite's palette as "#rrggbb" strings (fully transparent entries left out).
function M.palette_hexes(sprite)
  local pal = sprite.palettes[1]
  local out = {}
  for i = 0, #pal - 1 do
    local c = pal:getColor(i)
    if c.alpha > 0 then out[#out + 1] = protocol.rgb_to_hex(c.red, c.green, c.blue) end
  end
  return out
end

local function check_rgb(sprite)
  if sprite.colorMode ~= ColorMode.RGB then
    return nil, "The active sprite is not RGB; convert it (Sprite > Color Mode > RGB) or insert as a new sprite."
  end
  return true
end

-- Columns and rows of a near-square grid of n cells (row major).
local function grid_of(n)
  local cols = math.ceil(math.sqrt(n))
  return cols, math.ceil(n / cols)
end

-- Draws images on one image as a near-square grid (row major).
local function sheet_image(images, w, h)
  local cols, rows = grid_of(#images)
  local sheet = Image(cols * w, rows * h, ColorMode.RGB)
  for i, im in ipairs(images) do
    sheet:drawImage(M.image(im), Point(((i - 1) % cols) * w, ((i - 1) // cols) * h))
  end
  return sheet
end

-- Tiles into a new sprite: a tilemap layer whose tileset holds the tiles (tile i = image i; tile 0 is Aseprite's
-- empty tile) and whose one cel shows them as a near-square grid (row major), the sprite's grid = the tile size. The
-- layer comes from app.command.NewLayer{ tilemap = true } (cmd_new_layer.cpp; Sprite:newLayer makes image layers
-- only), the tiles from Sprite:newTile + Tile.image (sprite_class.cpp, tile_class.cpp), the map is a
-- ColorMode.TILEMAP image of tile indices put with Sprite:newCel. Without the tilemap API (M.tilemaps), or when no
-- tilemap layer of the tile size appears, the same grid goes into an image layer instead. One transaction. Returns
-- the sprite and "tilemap" or "grid".
local function insert_tiles(images, opts)
  local w, h = images[1].width, images[1].height
  local cols, rows = grid_of(#images)
  local sprite = Sprite(cols * w, rows * h, ColorMode.RGB)
  local how = "grid"
  app.transaction("pixelsprite: tiles", function()
    sprite.gridBounds = Rectangle(0, 0, w, h)
    local pixels = sprite.layers[1]
    local layer
    if M.tilemaps() then
      app.command.NewLayer{ name = "pixelsprite tiles", tilemap = true, gridBounds = Rectangle(0, 0, w, h) }
      for _, l in ipairs(sprite.layers) do if l.isTilemap then layer = l end end
      local size = layer and layer.tileset.grid.tileSize
      if layer and (size.width ~= w or size.height ~= h) then
        sprite:deleteTileset(layer.tileset)
        sprite:deleteLayer(layer)
        layer = nil
      end
    end
    if layer then
      local tileset = layer.tileset
      tileset.name = opts.name or "pixelsprite"
      local map = Image(cols, rows, ColorMode.TILEMAP)
      for i, im in ipairs(images) do
        local tile = sprite:newTile(tileset)
        tile.image = M.image(im)
        map:drawPixel((i - 1) % cols, (i - 1) // cols, tile.index)
      end
      sprite:newCel(layer, 1, map, Point(0, 0))
      sprite:deleteLayer(pixels)
      how = "tilemap"
    else
      pixels.name = "pixelsprite tiles"
      sprite:newCel(pixels, 1, sheet_image(images, w, h), Point(0, 0))
    end
  end)
  app.refresh()
  return sprite, how
end

-- Inserts images (list from protocol.images) by mode:
--   "sprite":  a new sprite, one frame per image;
--   "layer":   a new layer in the active sprite, image i in frame (active + i - 1), at `position`;
--   "frames":  new frames after the active one, in the active layer, at `position`;
--   "sheet":   a new sprite holding one sprite sheet (a near-square grid, row major);
--   "tilemap": a new sprite with the images as the tiles of a tilemap layer (insert_tiles; opts.name names the
--              tileset); the second result says "tilemap" or "grid" (no tilemap API: an image layer).
-- Returns the sprite, or nil and a message.
function M.insert(images, mode, opts)
  opts = opts or {}
  if #images == 0 then return nil, "Nothing to insert." end
  if mode == "tilemap" then return insert_tiles(images, opts) end
  local w, h = images[1].width, images[1].height
  local pos = opts.position or Point(0, 0)
  if mode == "sprite" then
    local sprite = Sprite(w, h, ColorMode.RGB)
    app.transaction("pixelsprite: new sprite", function()
      local layer = sprite.layers[1]
      layer.name = "pixelsprite"
      for i, im in ipairs(images) do
        if i > 1 then sprite:newEmptyFrame(i) end
        sprite:newCel(layer, i, M.image(im), Point(0, 0))
      end
    end)
    return sprite
  end
  if mode == "sheet" then
    local sheet = sheet_image(images, w, h)
    local sprite = Sprite(sheet.width, sheet.height, ColorMode.RGB)
    app.transaction("pixelsprite: sprite sheet", function()
      sprite.layers[1].name = "pixelsprite"
      sprite:newCel(sprite.layers[1], 1, sheet, Point(0, 0))
    end)
    return sprite
  end
  local sprite = app.activeSprite
  if not sprite then return nil, "There is no open sprite; insert as a new sprite instead." end
  local ok, err = check_rgb(sprite)
  if not ok then return nil, err end
  local first = app.activeFrame and app.activeFrame.frameNumber or 1
  if mode == "layer" then
    app.transaction("pixelsprite: new layer", function()
      local layer = sprite:newLayer()
      layer.name = "pixelsprite"
      for i, im in ipairs(images) do
        local f = first + i - 1
        if f > #sprite.frames then sprite:newEmptyFrame(f) end
        sprite:newCel(layer, f, M.image(im), pos)
      end
    end)
  elseif mode == "frames" then
    local layer = app.activeLayer
    if not layer or not layer.isImage then return nil, "Select an image layer to add frames to." end
    app.transaction("pixelsprite: new frames", function()
      for i, im in ipairs(images) do
        local f = first + i
        sprite:newEmptyFrame(f)
        sprite:newCel(layer, f, M.image(im), pos)
      end
    end)
  else
    return nil, "Unknown insert mode " .. tostring(mode)
  end
  app.refresh()
  return sprite
end

-- Sets a palette of "#rrggbb" strings on a sprite in one undo step.
function M.set_palette(sprite, hexes)
  local pal = Palette(#hexes)
  for i, hex in ipairs(hexes) do
    local r, g, b = protocol.hex_to_rgb(hex)
    pal:setColor(i - 1, Color{ r = r, g = g, b = b, a = 255 })
  end
  app.transaction("pixelsprite: palette", function() sprite:setPalette(pal) end)
  return pal
end

return M
