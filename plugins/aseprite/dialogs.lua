-- Dialogs. Every server call is asynchronous: buttons send a request and return at once; answers update the dialog.
-- In Aseprite (src/app/script/dialog_class.cpp): Dialog.data also holds the buttons (booleans) and labels (their
-- text), so only the form's own fields are remembered; modify{options=} selects the first option and fires the
-- combobox's onchange, and modify{option=} ignores an option that is not in the list, so the dialogs read back what
-- is actually selected; a file widget's value is always a full path, so the file name is asked for explicitly.
local protocol = require("protocol")
local document = require("document")
local b64 = require("b64")

local M = {}

local TILEMAP_MODE = "New tilemap"
local INSERT_MODES = { "New sprite", "New layer", "New frames", "Sprite sheet", TILEMAP_MODE }
local INSERT_KEYS = { ["New sprite"] = "sprite", ["New layer"] = "layer", ["New frames"] = "frames",
                      ["Sprite sheet"] = "sheet", [TILEMAP_MODE] = "tilemap" }
-- A tile model's results (`tiling` in its catalog entry, docs/protocol.md) are each shown repeated this many times
-- across and down: a seam only shows when the tile meets itself.
M.TILE_REPEAT = 3
local PALETTE_NONE, PALETTE_SPRITE = "None", "Sprite's palette"
M.CANVAS_W, M.CANVAS_H = 256, 128
M.MAX_SEED = 2147483647

local function status_text(conn)
  local s = conn.state
  if s == "ready" then return "Connected to " .. conn.url .. " (server " .. tostring(conn.detail) .. ")" end
  if s == "connecting" then return "Connecting... " .. tostring(conn.detail or "") end
  if s == "offline" then return "Waiting for the server: " .. tostring(conn.detail or "") end
  if s == "mismatch" then return tostring(conn.detail) end
  if s == "error" then return "Error: " .. tostring(conn.detail) end
  return "Not connected"
end

local OUTLINES = { "None", "Darkest colour", "Black" }
local OUTLINE_VALUES = { ["Darkest colour"] = "darkest", ["Black"] = "#000000" }

-- Clean-up parameters from the dialog's data; only what is switched on is sent (older servers refuse the rest).
function M.cleanup(d)
  local p = {}
  if d.despeckle then p.despeckle = true end
  if OUTLINE_VALUES[d.outline] then p.outline = OUTLINE_VALUES[d.outline] end
  if d.dither and d.dither ~= "none" and d.palette and d.palette ~= PALETTE_NONE then p.dither = d.dither end
  return p
end

-- Copies the named fields of a dialog's data into preferences (not its labels or buttons, which Dialog.data also
-- holds, nor anything a restart could not restore).
local function remember(prefs, d, fields)
  for _, k in ipairs(fields) do prefs[k] = d[k] end
end

-- A progress answer in words; fields the server left out are shown as "?".
local function progress_text(p, verb)
  local function n(x) return math.tointeger(x) or "?" end
  return string.format("%s... %s / %s %s", verb or "Generating", n(p.done), n(p.total),
                       type(p.unit) == "string" and p.unit or "")
end

-- Connects unless the connection is up or Aseprite is still trying (then its events update the dialog).
local function ensure_connected(conn, request_models)
  if conn.state == "ready" then request_models() elseif not conn:active() then conn:connect() end
end

-- Layout of the preview grid: cells of w x h scaled by an integer (nearest neighbour, never smoothed). `fits` is
-- false when not every cell fits the canvas at scale 1: the cells then wrap at the canvas's width at scale 1 and the
-- rows below its height show when the dialog is made taller (the canvas grows with it).
function M.grid_layout(n, w, h, canvas_w, canvas_h)
  local best = nil
  for cols = 1, math.max(n, 1) do
    local rows = math.ceil(n / cols)
    local scale = math.min(canvas_w // (cols * w), canvas_h // (rows * h))
    if scale >= 1 and (not best or scale > best.scale) then
      best = { cols = cols, rows = rows, scale = scale, fits = true }
    end
  end
  if best then return best end
  local cols = math.max(1, math.min(n, canvas_w // w))
  return { cols = cols, rows = math.ceil(n / cols), scale = 1, fits = false }
end

-- Draws images as the preview grid on a canvas's GraphicsContext: integer scale, nearest neighbour, picked ones
-- framed. With `tiled` (tiles of a tile model) each cell holds its image repeated M.TILE_REPEAT x M.TILE_REPEAT, edge
-- to edge with nothing between the copies, so a seam shows; the frame of a picked one goes round the whole cell.
-- The same code draws the final result and the previews that arrive with progress. Returns the layout (its `cell_w`
-- and `cell_h` are a cell's size before scaling).
function M.draw_grid(gc, images, picked, tiled)
  gc.antialias = false
  local n = #images
  if n == 0 then return nil end
  local w, h = images[1].width, images[1].height
  local rep = tiled and M.TILE_REPEAT or 1
  local lay = M.grid_layout(n, w * rep, h * rep, gc.width, gc.height)
  lay.cell_w, lay.cell_h = w * rep, h * rep
  local s = lay.scale
  for i, im in ipairs(images) do
    im.preview = im.preview or document.image(im)
    local x, y = ((i - 1) % lay.cols) * w * rep * s, ((i - 1) // lay.cols) * h * rep * s
    for ty = 0, rep - 1 do
      for tx = 0, rep - 1 do
        gc:drawImage(im.preview, Rectangle(0, 0, w, h), Rectangle(x + tx * w * s, y + ty * h * s, w * s, h * s))
      end
    end
    if picked and picked[i] then
      gc.color = Color{ r = 255, g = 200, b = 0, a = 255 }
      gc:strokeRect(Rectangle(x, y, w * rep * s, h * rep * s))
    end
  end
  return lay
end

-- Which image index (1-based) a canvas point falls on, or nil.
function M.hit(layout, w, h, x, y, n)
  local cell_w, cell_h = w * layout.scale, h * layout.scale
  local col, row = x // cell_w, y // cell_h
  if col >= layout.cols then return nil end
  local i = row * layout.cols + col + 1
  if i >= 1 and i <= n then return i end
  return nil
end

-- A sprite dialog: server status, model, count, seed (with dice), the spec's own fields, palette, preview grid,
-- Generate / Cancel / Insert. spec: title, key (preferences namespace, and the operation the models must offer),
-- insert (default mode), fields(dlg, prefs) adds widgets, remember (the names of those widgets to keep in
-- preferences), request(data, model, palette, models) -> request table or nil and a sentence, preview (ask a server
-- that offers it for preview images with progress; the grid shows them until the result arrives), on_model(model).
-- Options of Repaint Selection: strict (list only models whose `operations` name spec.key; without it a model that
-- lists no operations counts as offering it), prefer(model) (a model to select first, e.g. of the sprite's size),
-- action (the text of the Generate button), verb (of the progress text), no_models (the status when no model fits),
-- apply{ text =, run = function(image) -> sentence or nil, error } (replaces "Insert as" and Insert: the user picks
-- one candidate and Apply puts it somewhere).
-- ctx: conn (connection), prefs (plugin.preferences), palettes (built-in names). Returns the dialog and its state.
function M.sprite_dialog(ctx, spec)
  local conn = ctx.conn
  ctx.prefs[spec.key] = ctx.prefs[spec.key] or {}
  local prefs = ctx.prefs[spec.key]
  -- images: the result's (pickable, insertable); preview: the latest progress images, shown until the result;
  -- tiled: they come from a tile model (shown repeated); model_tiling: whether the chosen model makes tiles
  local st = { images = {}, preview = {}, picked = {}, models = {}, request = nil, tiled = false }
  local dlg

  local function set_status(text)
    if not st.closed then dlg:modify{ id = "status", text = text } end
  end

  -- A model was chosen (or the list arrived): a tile model switches Insert as to a new tilemap, and leaving tile
  -- models for sprite models switches it back to the dialog's default; then the spec's own on_model.
  local function model_chosen()
    local model = st.models[dlg.data.model]
    local tiling = model ~= nil and model.tiling == true
    if not spec.apply and tiling ~= st.model_tiling then
      if tiling then
        dlg:modify{ id = "insert", option = TILEMAP_MODE }
      elseif st.model_tiling and dlg.data.insert == TILEMAP_MODE then
        dlg:modify{ id = "insert", option = spec.insert or INSERT_MODES[1] }
      end
    end
    st.model_tiling = tiling
    if spec.on_model then spec.on_model(model) end
  end

  local function request_models()
    conn:send(protocol.models(), {
      on_result = function(r)
        st.models = {}
        local names = {}
        for _, m in ipairs(r.models or {}) do
          -- a model that lists its operations must offer this one (a teacher or evaluator makes no sprites)
          local offers = m.operations == nil and not spec.strict
          for _, op in ipairs(m.operations or {}) do if op == spec.key then offers = true end end
          if offers then
            st.models[m.name] = m
            names[#names + 1] = m.name
          end
        end
        local option = st.models[prefs.model] and prefs.model or r.default
        if spec.prefer and not (st.models[option] and spec.prefer(st.models[option])) then
          for _, n in ipairs(names) do
            if spec.prefer(st.models[n]) then option = n; break end
          end
        end
        dlg:modify{ id = "model", options = names, option = option }
        -- Aseprite keeps the first option when `option` is not among them (e.g. a default that makes no sprites)
        if #names == 0 then set_status(spec.no_models or "The server has no model for this.") end
        model_chosen()
      end,
      on_error = function(_, text) set_status(text) end,
    })
  end

  conn.on_state = function(state)
    if dlg then
      set_status(status_text(conn))
      if state == "ready" then request_models() end
    end
  end
  conn.on_bug = function(text) set_status("The extension hit an error: " .. tostring(text)) end

  local palettes = { PALETTE_NONE, PALETTE_SPRITE }
  for _, name in ipairs(ctx.palettes or {}) do palettes[#palettes + 1] = name end

  local function palette_param(choice)
    if choice == PALETTE_NONE or choice == nil then return nil end
    if choice == PALETTE_SPRITE then
      if not app.activeSprite then return nil end
      return document.palette_hexes(app.activeSprite)
    end
    return choice
  end

  local fields = { "model", "count", "seed", "palette", "dither", "despeckle", "outline" }
  if not spec.apply then fields[#fields + 1] = "insert" end
  for _, k in ipairs(spec.remember or {}) do fields[#fields + 1] = k end

  local function generate()
    local d = dlg.data
    remember(prefs, d, fields)
    st.images, st.preview, st.picked = {}, {}, {}
    dlg:repaint()
    local msg, why = spec.request(d, st.models[d.model], palette_param(d.palette), st.models)
    if not msg then return set_status(why) end
    st.tiled = st.models[d.model] ~= nil and st.models[d.model].tiling == true
    st.model_name = d.model
    for k, v in pairs(M.cleanup(d)) do msg[k] = v end
    -- preview images come only from servers that announce them (older ones refuse unknown parameters)
    if spec.preview and conn:supports("preview") then msg.preview = true end
    set_status("Working on " .. tostring(msg.count) .. " sprite(s)...")
    dlg:modify{ id = "cancel", enabled = true }
    st.request = conn:send(msg, {
      on_progress = function(p)
        local text = progress_text(p, spec.verb)
        if p.images and not st.closed then
          local images = protocol.images(p)
          if images then
            st.preview = images
            text = text .. " (preview)"
            dlg:repaint()
          end
        end
        set_status(text)
      end,
      on_result = function(r)
        st.request = nil
        st.preview = {}
        dlg:modify{ id = "cancel", enabled = false }
        local images, err = protocol.images(r)
        if not images then return set_status("Error: " .. err) end
        if #images == 0 then
          dlg:repaint()
          return set_status(string.format("The server sent no %s; try again.", st.tiled and "tiles" or "sprites"))
        end
        st.images = images
        local seeds = ""
        if type(r.seeds) == "table" and math.tointeger(r.seeds[1]) and math.tointeger(r.seeds[#r.seeds]) then
          seeds = string.format(", seeds %d..%d", r.seeds[1], r.seeds[#r.seeds])
        end
        local ms = type(r.timing) == "table" and tonumber(r.timing.total_ms) or 0
        local what, more = "sprite(s)", ""
        if st.tiled then
          what = string.format("tile(s), each repeated %dx%d", M.TILE_REPEAT, M.TILE_REPEAT)
          local w, h = images[1] and images[1].width or 1, images[1] and images[1].height or 1
          if not M.grid_layout(#images, w * M.TILE_REPEAT, h * M.TILE_REPEAT, M.CANVAS_W, M.CANVAS_H).fits then
            more = " Make the dialog taller to see them all."
          end
        end
        set_status(string.format("%d %s%s, %.0f ms. Click to pick, then %s.%s", #images, what, seeds, ms,
                                 spec.apply and spec.apply.text or "Insert", more))
        dlg:repaint()
      end,
      on_error = function(_, text)
        st.request = nil
        dlg:modify{ id = "cancel", enabled = false }
        set_status(text)
        if #st.preview > 0 and not st.closed then
          st.preview = {}
          dlg:repaint()
        end
      end,
    })
  end

  -- Repaint Selection: the one picked candidate (or the only one) goes where spec.apply puts it
  local function apply()
    if #st.images == 0 then return set_status((spec.action or "Generate") .. " first.") end
    local chosen = nil
    for i, im in ipairs(st.images) do if st.picked[i] then chosen = im end end
    if not chosen and #st.images == 1 then chosen = st.images[1] end
    if not chosen then return set_status("Click a candidate to pick it, then " .. spec.apply.text .. ".") end
    local text, err = spec.apply.run(chosen)
    set_status(text or err)
  end

  local function insert()
    if #st.images == 0 then return set_status("Generate first.") end
    local chosen = {}
    for i, im in ipairs(st.images) do if st.picked[i] then chosen[#chosen + 1] = im end end
    if #chosen == 0 then chosen = st.images end
    local mode = INSERT_KEYS[dlg.data.insert]
    local sprite, how = document.insert(chosen, mode, { position = document.origin(),
                                                        name = "pixelsprite " .. tostring(st.model_name) })
    if not sprite then return set_status(how) end
    if how == "tilemap" then
      return set_status(string.format("Inserted %d tile(s) of %dx%d into a new sprite's tilemap layer and its "
        .. "tileset. Edit > Undo takes it back.", #chosen, chosen[1].width, chosen[1].height))
    elseif how == "grid" then
      local _, why = document.tilemaps()
      return set_status(string.format("%s: the %d tile(s) went into a new sprite on a %dx%d grid instead.",
        why or "No tilemap layer could be made", #chosen, chosen[1].width, chosen[1].height))
    end
    set_status(string.format("Inserted %d sprite(s). Edit > Undo takes it back.", #chosen))
  end

  dlg = Dialog{ title = spec.title, onclose = function()
    if st.request then conn:cancel(st.request) end
    conn.on_state = function() end
    conn.on_bug = nil
    st.closed = true
  end }
  dlg:label{ id = "status", text = status_text(conn) }
  dlg:entry{ id = "url", label = "Server", text = conn.url }
  dlg:button{ id = "reconnect", text = "Reconnect", onclick = function()
    conn.url = dlg.data.url
    ctx.prefs.url = conn.url
    conn:connect()
  end }
  dlg:separator{}
  dlg:combobox{ id = "model", label = "Model", options = { prefs.model or "" }, option = prefs.model,
                onchange = model_chosen }
  dlg:number{ id = "count", label = "Count", text = tostring(prefs.count or 8), decimals = 0 }
  dlg:number{ id = "seed", label = "Seed", text = tostring(prefs.seed or 1), decimals = 0 }
  dlg:button{ id = "dice", text = "Dice", onclick = function()
    dlg:modify{ id = "seed", text = tostring(math.random(0, M.MAX_SEED)) }
  end }
  if spec.fields then spec.fields(dlg, prefs) end
  dlg:combobox{ id = "palette", label = "Palette", options = palettes, option = prefs.palette or PALETTE_NONE }
  dlg:combobox{ id = "dither", label = "Dither", options = { "none", "bayer2", "bayer4" },
                option = prefs.dither or "none" }
  dlg:check{ id = "despeckle", label = "Clean-up", text = "Despeckle", selected = prefs.despeckle or false }
  dlg:combobox{ id = "outline", label = "Outline", options = OUTLINES, option = prefs.outline or OUTLINES[1] }
  dlg:canvas{ id = "preview", width = M.CANVAS_W, height = M.CANVAS_H,
    onpaint = function(ev)
      if #st.images > 0 then
        st.layout = M.draw_grid(ev.context, st.images, st.picked, st.tiled)
      else  -- while working: the latest preview (not pickable)
        M.draw_grid(ev.context, st.preview, nil, st.tiled)
      end
    end,
    onmousedown = function(ev)
      if not st.layout or #st.images == 0 then return end
      local i = M.hit(st.layout, st.layout.cell_w, st.layout.cell_h, ev.x, ev.y, #st.images)
      if i and spec.apply then  -- one candidate at a time
        st.picked = { [i] = not st.picked[i] or nil }
        dlg:repaint()
      elseif i then
        st.picked[i] = not st.picked[i]; dlg:repaint()
      end
    end }
  if not spec.apply then
    dlg:combobox{ id = "insert", label = "Insert as", options = INSERT_MODES,
                  option = prefs.insert or spec.insert or INSERT_MODES[1] }
  end
  dlg:button{ id = "generate", text = spec.action or "Generate", onclick = generate }
  dlg:button{ id = "cancel", text = "Cancel", enabled = false, onclick = function()
    if st.request then conn:cancel(st.request) end
  end }
  if spec.apply then
    dlg:button{ id = "apply", text = spec.apply.text, onclick = apply }
  else
    dlg:button{ id = "insert_button", text = "Insert", onclick = insert }
  end
  dlg:button{ id = "close", text = "Close", onclick = function() dlg:close() end }

  ensure_connected(conn, request_models)
  dlg:show{ wait = false }
  return dlg, st
end

local function int(x) return math.floor(tonumber(x) or 0) end

-- Generate Sprite...: new sprites from seeds.
-- Label, steps and guidance go only to models that list them in `parameters`.
local ANY_LABEL = "(any)"

local function takes(model, name)
  for _, p in ipairs(model and model.parameters or {}) do if p == name then return true end end
  return false
end

-- The sampler's widgets (label, steps, guidance, temperature), shared by Generate Sprite and Repaint Selection.
local SAMPLER_FIELDS = { "steps", "guidance", "temperature" }

local function sampler_fields(dlg, prefs)
  dlg:combobox{ id = "label", label = "Label", options = { ANY_LABEL }, option = ANY_LABEL }
  dlg:number{ id = "steps", label = "Steps (0: model's)", text = tostring(prefs.steps or 0), decimals = 0 }
  dlg:number{ id = "guidance", label = "Guidance", text = tostring(prefs.guidance or 0), decimals = 1 }
  -- pixel models sample their colours at a temperature in (0, 2]; 0 here: the model's own
  dlg:number{ id = "temperature", label = "Temperature (0: model's)", text = tostring(prefs.temperature or 0),
              decimals = 2 }
end

local function sampler_model(dlg, model)
  local options = { ANY_LABEL }
  if takes(model, "label") then for _, l in ipairs(model.labels or {}) do options[#options + 1] = l end end
  dlg:modify{ id = "label", options = options, option = ANY_LABEL }
end

-- Adds to request parameters p what the dialog's data d sets and the model takes (its `parameters`).
local function sampler_params(d, model, p)
  if takes(model, "label") and d.label ~= ANY_LABEL then p.label = d.label end
  if takes(model, "steps") and int(d.steps) > 0 then p.steps = int(d.steps) end
  if takes(model, "guidance") and (tonumber(d.guidance) or 0) > 0 then p.guidance = tonumber(d.guidance) end
  if takes(model, "temperature") and (tonumber(d.temperature) or 0) > 0 then p.temperature = tonumber(d.temperature) end
  return p
end

function M.generate(ctx)
  local dlg_ref
  local remember = { "candidates" }
  for _, k in ipairs(SAMPLER_FIELDS) do remember[#remember + 1] = k end
  return M.sprite_dialog(ctx, { title = "Generate Sprite", key = "generate", insert = "New sprite", preview = true,
    remember = remember,
    fields = function(dlg, prefs)
      dlg_ref = dlg
      sampler_fields(dlg, prefs)
      dlg:number{ id = "candidates", label = "Candidates (best of)", text = tostring(prefs.candidates or 1),
                  decimals = 0 }
    end,
    on_model = function(model) sampler_model(dlg_ref, model) end,
    request = function(d, model, palette)
      local p = sampler_params(d, model, { model = d.model, count = int(d.count), seed = int(d.seed),
                                           palette = palette })
      -- the server's teacher makes this many per sprite and returns the best (1: off; at most 16)
      if int(d.candidates) > 1 then p.candidates = math.min(int(d.candidates), 16) end
      return protocol.generate(p)
    end })
end

local function model_size(model)
  if not model or not model.size then return nil, "Wait for the model list (is the server connected?)." end
  return model.size[1], model.size[2]
end

-- Variations of Selection...: the active cel (inside the selection, if any) -> N variations.
function M.variations(ctx)
  return M.sprite_dialog(ctx, { title = "Variations of Selection", key = "variations", insert = "New frames",
    preview = true, remember = { "strength" },
    fields = function(dlg, prefs)
      dlg:slider{ id = "strength", label = "Strength (%)", min = 0, max = 200, value = prefs.strength or 50 }
    end,
    request = function(d, model, palette)
      local w, h = model_size(model)
      if not w then return nil, h end
      local bytes, err = document.cel_rgba(app.activeCel, w, h, document.origin())
      if not bytes then return nil, err end
      return protocol.variations(protocol.rgba_image(bytes, w, h), { model = d.model, count = int(d.count),
        seed = int(d.seed), strength = d.strength / 100, palette = palette })
    end })
end

-- Repaint Selection...: a pixel model regenerates the selected pixels of the active cel (inpaint); the candidates
-- show in the preview grid, and the one picked goes back into that cel, the selection only, in one undo step.
-- Only models that list "inpaint" in their operations, of the sprite's size.
function M.repaint(ctx)
  local dlg_ref
  local sent = nil  -- what the last request repaints: { target =, mask = }
  local function fits(model)
    local sprite = app.activeSprite
    return sprite ~= nil and model ~= nil and type(model.size) == "table" and model.size[1] == sprite.width
      and model.size[2] == sprite.height
  end
  return M.sprite_dialog(ctx, { title = "Repaint Selection", key = "inpaint", preview = true, strict = true,
    action = "Repaint", verb = "Repainting", remember = SAMPLER_FIELDS, prefer = fits,
    no_models = "The server has no model that can repaint (inpaint needs a pixel model).",
    fields = function(dlg, prefs)
      dlg_ref = dlg
      sampler_fields(dlg, prefs)
    end,
    on_model = function(model) sampler_model(dlg_ref, model) end,
    request = function(d, model, palette, models)
      local sprite = app.activeSprite
      if not ctx.conn:offers("inpaint") then
        return nil, "This pixelsprite server cannot repaint; update it (pip install -U pixelsprite)."
      end
      local w, h = model_size(model)
      if not w then return nil, h end
      local target, err = document.repaint_target(sprite)
      if not target then return nil, err end
      if w ~= sprite.width or h ~= sprite.height then
        local fitting = {}
        for name, m in pairs(models or {}) do if fits(m) then fitting[#fitting + 1] = name end end
        table.sort(fitting)
        return nil, string.format("%s makes %dx%d sprites but this sprite is %dx%d: Repaint Selection needs a "
          .. "pixel model of the sprite's size%s.", tostring(d.model), w, h, sprite.width, sprite.height,
          #fitting > 0 and " (" .. table.concat(fitting, ", ") .. ")" or "; resize the canvas or add such a model")
      end
      local mask, n = document.selection_mask(sprite)
      if not mask then return nil, n end
      local image = document.target_rgba(target)
      sent = { target = target, mask = mask, pixels = n }
      return protocol.inpaint(protocol.rgba_image(image, w, h), protocol.rgba_image(mask, w, h),
        sampler_params(d, model, { model = d.model, count = int(d.count), seed = int(d.seed), palette = palette }))
    end,
    apply = { text = "Apply", run = function(image)
      if not sent then return nil, "Repaint first." end
      local ok, done, err = pcall(document.repaint, sent.target, image.bytes, sent.mask)
      if not ok then return nil, "Could not apply: the sprite or layer is gone (" .. tostring(done) .. ")." end
      if not done then return nil, err end
      return string.format("Repainted %d pixel(s)%s. Edit > Undo takes it back.", sent.pixels,
                           image.seed and (" with seed " .. tostring(image.seed)) or "")
    end },
  })
end

-- Interpolate Between Frames...: the active layer's cels in two frames -> in-between frames.
function M.interpolate(ctx)
  local first = app.activeFrame and app.activeFrame.frameNumber or 1
  return M.sprite_dialog(ctx, { title = "Interpolate Between Frames", key = "interpolate", insert = "New frames",
    remember = { "method" },
    fields = function(dlg, prefs)
      dlg:number{ id = "from", label = "From frame", text = tostring(first), decimals = 0 }
      dlg:number{ id = "to", label = "To frame", text = tostring(first + 1), decimals = 0 }
      dlg:combobox{ id = "method", label = "Method", options = { "slerp", "lerp" }, option = prefs.method or "slerp" }
    end,
    request = function(d, model, palette)
      local w, h = model_size(model)
      if not w then return nil, h end
      local layer = app.activeLayer
      if not layer then return nil, "Select the layer to interpolate in." end
      local a, err = document.cel_rgba(layer:cel(int(d.from)), w, h, document.origin())
      if not a then return nil, "From frame: " .. err end
      local b, err2 = document.cel_rgba(layer:cel(int(d.to)), w, h, document.origin())
      if not b then return nil, "To frame: " .. err2 end
      local count = math.max(2, math.min(64, int(d.count)))
      return protocol.interpolate(protocol.rgba_image(a, w, h), protocol.rgba_image(b, w, h),
        { model = d.model, count = count, method = d.method, palette = palette })
    end })
end

-- Palette from Model...: propose a palette from a model's samples; set it on the sprite or save it as .gpl.
function M.palette(ctx)
  local conn = ctx.conn
  ctx.prefs.palette_from_model = ctx.prefs.palette_from_model or {}
  local prefs = ctx.prefs.palette_from_model
  -- path_chosen: the user typed or picked a file name (a file widget always holds a full path, even untouched)
  local st = { colors = {}, file = nil, request = nil, path_chosen = false }
  local dlg
  local function set_status(text)
    if not st.closed then dlg:modify{ id = "status", text = text } end
  end

  local function propose()
    local d = dlg.data
    remember(prefs, d, { "model", "count", "colors", "seed", "method" })
    if not conn:offers("palette") then
      return set_status("This pixelsprite server cannot propose palettes; update it (pip install -U pixelsprite).")
    end
    local msg = protocol.palette{ model = d.model, count = int(d.count), seed = int(d.seed), colors = int(d.colors),
                                  method = d.method, format = "gpl", name = "pixelsprite " .. tostring(d.model) }
    set_status("Sampling " .. msg.count .. " sprites...")
    st.request = conn:send(msg, {
      on_result = function(r)
        st.request = nil
        st.colors, st.file = r.colors or {}, r.file
        set_status(string.format("%d colours from %d samples of %s.", #st.colors, r.sample_count or 0, r.model))
        dlg:repaint()
      end,
      on_error = function(_, text) st.request = nil; set_status(text) end,
    })
  end

  local function set_on_sprite()
    if #st.colors == 0 then return set_status("Propose a palette first.") end
    if not app.activeSprite then return set_status("Open a sprite first.") end
    document.set_palette(app.activeSprite, st.colors)
    set_status("Palette set on the sprite. Edit > Undo takes it back.")
  end

  local function save()
    local path = dlg.data.path
    if not st.file then return set_status("Propose a palette first.") end
    local named = st.path_chosen and type(path) == "string" and path ~= "" and not path:match("[/\\]$")
    if not named then return set_status("Type a file name in Save as (or pick one with its button) first.") end
    if not path:lower():match("%.gpl$") then path = path .. ".gpl" end
    local bytes = b64.decode(st.file)
    if not bytes then return set_status("The server sent a palette file that is not base64.") end
    -- Aseprite asks the user before a script writes a file; a refusal raises from io.open (security.cpp)
    local ok, f, err = pcall(io.open, path, "wb")
    if not ok then return set_status("Aseprite was not allowed to write " .. path .. ".") end
    if not f then return set_status("Could not save: " .. tostring(err)) end
    f:write(bytes)
    f:close()
    set_status("Saved " .. path)
  end

  dlg = Dialog{ title = "Palette from Model", onclose = function()
    if st.request then conn:cancel(st.request) end
    conn.on_state = function() end
    conn.on_bug = nil
    st.closed = true
  end }
  dlg:label{ id = "status", text = status_text(conn) }
  dlg:combobox{ id = "model", label = "Model", options = { prefs.model or "" }, option = prefs.model }
  dlg:number{ id = "count", label = "Samples", text = tostring(prefs.count or 64), decimals = 0 }
  dlg:number{ id = "colors", label = "Colours", text = tostring(prefs.colors or 16), decimals = 0 }
  dlg:number{ id = "seed", label = "Seed", text = tostring(prefs.seed or 1), decimals = 0 }
  dlg:button{ id = "dice", text = "Dice", onclick = function()
    dlg:modify{ id = "seed", text = tostring(math.random(0, M.MAX_SEED)) }
  end }
  dlg:combobox{ id = "method", label = "Method", options = { "kmeans", "median_cut" }, option = prefs.method }
  dlg:canvas{ id = "swatch", width = M.CANVAS_W, height = 32, onpaint = function(ev)
    local gc, n = ev.context, #st.colors
    for i, hex in ipairs(st.colors) do
      local r, g, b = protocol.hex_to_rgb(hex)
      gc.color = Color{ r = r, g = g, b = b, a = 255 }
      local x0, x1 = (i - 1) * gc.width // n, i * gc.width // n
      gc:fillRect(Rectangle(x0, 0, x1 - x0, gc.height))
    end
  end }
  dlg:button{ id = "propose", text = "Propose", onclick = propose }
  dlg:button{ id = "set", text = "Set on Sprite", onclick = set_on_sprite }
  -- entry=true: the user can type the name; save=true: its button opens a save dialog
  dlg:file{ id = "path", label = "Save as", save = true, entry = true, filetypes = { "gpl" }, filename = "",
            onchange = function() st.path_chosen = true end }
  dlg:button{ id = "save", text = "Save .gpl", onclick = save }

  local function request_models()
    conn:send(protocol.models(), {
      on_result = function(r)
        local names = {}
        for _, m in ipairs(r.models or {}) do names[#names + 1] = m.name end
        local option = r.default
        for _, n in ipairs(names) do if n == prefs.model then option = n end end
        dlg:modify{ id = "model", options = names, option = option }
      end,
      on_error = function(_, text) set_status(text) end,
    })
  end
  conn.on_state = function(state)
    set_status(status_text(conn))
    if state == "ready" then request_models() end
  end
  conn.on_bug = function(text) set_status("The extension hit an error: " .. tostring(text)) end
  ensure_connected(conn, request_models)
  dlg:show{ wait = false }
  return dlg, st
end

return M
