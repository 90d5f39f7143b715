-- pixelsprite for Aseprite: entry point. Registers the commands; the other modules do one job each:
--   b64 (base64), protocol (messages), connection (websocket), document (sprite edits), dialogs (UI).
local conn

-- The newest API used: the global `json` (Aseprite v1.3-rc5). Dialog:canvas and GraphicsContext need v1.3-rc1,
-- WebSocket with permissions and reconnect waits v1.2.30; Plugin:newMenuGroup (v1.3-rc2) is optional.

function init(plugin)
  if type(json) ~= "table" or type(json.decode) ~= "function" or type(WebSocket) ~= "function" then
    app.alert{ title = "pixelsprite",
               text = "pixelsprite needs Aseprite v1.3-rc5 or newer (its json and WebSocket scripting API)." }
    return
  end
  package.path = plugin.path .. "/?.lua;" .. package.path
  local connection = require("connection")
  local dialogs = require("dialogs")
  local builtin_palettes = require("builtin_palettes")
  local prefs = plugin.preferences
  prefs.url = prefs.url or "ws://127.0.0.1:8737"
  conn = connection.new{ url = prefs.url }

  local group = "edit_insert"
  -- Menu groups exist in newer Aseprite versions only; older ones get the commands straight in Edit.
  local has_groups = pcall(function() return assert(plugin.newMenuGroup) end)
  if has_groups then
    plugin:newMenuGroup{ id = "pixelsprite_menu", title = "pixelsprite", group = "edit_insert" }
    group = "pixelsprite_menu"
  end
  local ctx = { conn = conn, prefs = prefs, palettes = builtin_palettes }
  local function command(id, title, open, needs_sprite)
    plugin:newCommand{
      id = id, title = title, group = group,
      onclick = function() open(ctx) end,
      onenabled = needs_sprite and function() return app.activeSprite ~= nil end or nil,
    }
  end
  command("PixelspriteGenerate", "Generate Sprite...", dialogs.generate, false)
  command("PixelspriteVariations", "Variations of Selection...", dialogs.variations, true)
  command("PixelspriteInterpolate", "Interpolate Between Frames...", dialogs.interpolate, true)
  command("PixelspriteRepaint", "Repaint Selection...", dialogs.repaint, true)
  command("PixelspritePalette", "Palette from Model...", dialogs.palette, false)
end

function exit(plugin)
  if conn then conn:close() end
end
