-- Protocol v1 messages (docs/protocol.md): pure functions that build request tables/frames and read answers.
-- No I/O here; `json` is Aseprite's global codec (json.encode / json.decode).
local b64 = require("b64")

local M = {}

M.PROTOCOL = 1
M.CLIENT = "aseprite-pixelsprite"
M.VERSION = "0.1.0"

local PLAIN = {
  malformed_frame = "The server could not read the message (a bug in the extension).",
  invalid_request = "A setting was not accepted",
  unknown_operation = "This server does not know that operation; it may be too old.",
  unsupported_operation = "This server cannot do that yet.",
  unsupported_parameter = "The chosen model cannot use a setting",
  unknown_model = "No such model on the server.",
  invalid_image = "The image was not accepted (it must be the model's size).",
  bundle_error = "The model's files are broken on the server.",
  busy = "The server is busy; try again in a moment.",
  cancelled = "Cancelled.",
  shutting_down = "The server is shutting down.",
  internal = "The server hit an internal error.",
}

local counter = 0
function M.next_id(prefix)
  counter = counter + 1
  return (prefix or "r") .. counter
end

-- Copies `params` into a request, leaving out nil and "" (absent means the server's default).
local function request(op, id, params)
  local msg = { id = id or M.next_id(op:sub(1, 1)), op = op }
  for k, v in pairs(params or {}) do
    if v ~= nil and v ~= "" then msg[k] = v end
  end
  return msg
end

function M.hello(id)
  return request("hello", id, { client = M.CLIENT, version = M.VERSION, protocol = M.PROTOCOL })
end

function M.models(id) return request("models", id) end

function M.cancel(target, id) return request("cancel", id, { target = target }) end

-- params: model, count, seed, label, steps, guidance, palette, dither, max_colors, preview (progress answers carry
-- preview images). Images come back as raw RGBA.
function M.generate(params, id)
  local p = {}
  for k, v in pairs(params or {}) do p[k] = v end
  p.image_format = "rgba"
  return request("generate", id, p)
end

-- An image argument from raw RGBA bytes (row-major, 4 bytes per pixel).
function M.rgba_image(bytes, width, height)
  assert(#bytes == width * height * 4, "RGBA byte count does not match width x height")
  return { rgba = b64.encode(bytes), width = width, height = height }
end

function M.variations(image, params, id)
  local p = { image = image }
  for k, v in pairs(params or {}) do p[k] = v end
  p.image_format = "rgba"
  return request("variations", id, p)
end

function M.interpolate(a, b, params, id)
  local p = { a = a, b = b }
  for k, v in pairs(params or {}) do p[k] = v end
  p.image_format = "rgba"
  return request("interpolate", id, p)
end

function M.palette(params, id) return request("palette", id, params) end

function M.encode(msg) return json.encode(msg) end

-- Decodes a text frame into an answer table, or nil and a message.
function M.decode(text)
  local ok, msg = pcall(json.decode, text)
  if not ok or type(msg) ~= "table" then return nil, "the server sent something that is not JSON" end
  if msg.type ~= "result" and msg.type ~= "progress" and msg.type ~= "error" then
    return nil, "unknown answer type " .. tostring(msg.type)
  end
  return msg
end

-- The images of a sprite result, or of a progress answer with preview images (same fields: image_format, size,
-- images), as a list of {width=, height=, bytes=} with raw RGBA bytes.
function M.images(result)
  if result.image_format ~= "rgba" then return nil, "expected raw RGBA images, got " .. tostring(result.image_format) end
  local w, h = result.size[1], result.size[2]
  local out = {}
  for i, text in ipairs(result.images or {}) do
    local bytes, err = b64.decode(text)
    if not bytes then return nil, "image " .. i .. ": " .. err end
    if #bytes ~= w * h * 4 then
      return nil, string.format("image %d has %d bytes, expected %d", i, #bytes, w * h * 4)
    end
    out[i] = { width = w, height = h, bytes = bytes, seed = result.seeds and result.seeds[i] }
  end
  return out
end

-- Checks a hello result; returns true or false and a sentence for the user.
function M.check_hello(result)
  if result.protocol ~= M.PROTOCOL then
    return false, string.format(
      "The pixelsprite server speaks protocol %s but this extension speaks protocol %d. Update %s.",
      tostring(result.protocol), M.PROTOCOL,
      (tonumber(result.protocol) or 0) > M.PROTOCOL and "the extension" or "the server (pip install -U pixelsprite)")
  end
  return true
end

-- An error answer in plain words.
function M.explain(err)
  local base = PLAIN[err.code] or PLAIN.internal
  local text = base
  if type(err.field) == "string" and (err.code == "invalid_request" or err.code == "unsupported_parameter") then
    text = base .. " (" .. tostring(err.field) .. ")."
  end
  if err.message and err.message ~= "" then text = text .. "\n" .. err.message end
  return text
end

-- "#rrggbb" <-> {r, g, b}
function M.hex_to_rgb(hex)
  local r, g, b = hex:match("^#?(%x%x)(%x%x)(%x%x)$")
  if not r then return nil end
  return tonumber(r, 16), tonumber(g, 16), tonumber(b, 16)
end

function M.rgb_to_hex(r, g, b) return string.format("#%02x%02x%02x", r, g, b) end

return M
