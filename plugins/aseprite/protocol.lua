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

-- params: model, count, seed, label, steps, guidance, temperature, palette, dither, max_colors, preview
-- (progress answers carry preview images). Images come back as raw RGBA.
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

-- Inpainting (pixel models): regenerate the pixels of `image` where `mask` (an image of the same size: opaque white
-- = repaint, opaque black = keep) says so; every other pixel comes back exactly. params as generate (label, steps,
-- guidance, temperature, palette: the sampler draws only its colours, ...).
function M.inpaint(image, mask, params, id)
  local p = { image = image, mask = mask }
  for k, v in pairs(params or {}) do p[k] = v end
  p.image_format = "rgba"
  return request("inpaint", id, p)
end

function M.interpolate(a, b, params, id)
  local p = { a = a, b = b }
  for k, v in pairs(params or {}) do p[k] = v end
  p.image_format = "rgba"
  return request("interpolate", id, p)
end

function M.palette(params, id) return request("palette", id, params) end

-- Aseprite's json.encode (json_class.cpp) turns a plain Lua table into JSON text; numbers go out as doubles
-- ("%.17g"), which is exact for every integer the protocol uses. Never put a json.decode proxy inside a table to
-- encode: Aseprite encodes userdata as null.
function M.encode(msg) return json.encode(msg) end

-- Aseprite's json.decode (since v1.3-rc5, json_class.cpp) returns a userdata proxy, not a table: it reads with
-- indexing, `#` and pairs() (objects only: pairs() over an array proxy yields nothing), nested arrays/objects are
-- new proxies, and every number is a float. plain() copies such a value into plain Lua tables, once, so that the
-- rest of the extension can use type(), ipairs(), next() and keep what it needs; numbers with an integral value
-- become integers (sizes, counts, seeds, the protocol version), others stay floats. A plain table (another JSON
-- codec) is normalised the same way. Returns nil for what is not JSON data.
local function plain(v)
  local t = type(v)
  if t == "number" then return math.tointeger(v) or v end
  if t == "string" or t == "boolean" or t == "nil" then return v end
  if t == "table" then
    local out = {}
    for k, x in pairs(v) do out[k] = plain(x) end
    return out
  end
  if t ~= "userdata" then return nil end
  -- a proxy of an object yields string keys; of an array, nothing (or integer keys, should Aseprite fix that);
  -- of a scalar (json.decode('"text"')), pairs() raises
  local ok, first = pcall(function() for k in pairs(v) do return k end end)
  if not ok then return nil end
  local out = {}
  if type(first) == "string" then
    for k, x in pairs(v) do out[k] = plain(x) end
  else
    for i = 1, #v do out[i] = plain(v[i]) end
  end
  return out
end
M.plain = plain

-- Decodes a text frame into an answer table (plain Lua values), or nil and a message.
function M.decode(text)
  local ok, raw = pcall(json.decode, text)
  local msg = ok and plain(raw) or nil
  if type(msg) ~= "table" then return nil, "the server sent something that is not JSON" end
  if msg.type ~= "result" and msg.type ~= "progress" and msg.type ~= "error" then
    return nil, "unknown answer type " .. tostring(msg.type)
  end
  return msg
end

-- The images of a sprite result, or of a progress answer with preview images (same fields: image_format, size,
-- images), as a list of {width=, height=, bytes=} with raw RGBA bytes.
function M.images(result)
  if result.image_format ~= "rgba" then return nil, "expected raw RGBA images, got " .. tostring(result.image_format) end
  local size = type(result.size) == "table" and result.size or {}
  local w, h = math.tointeger(size[1]), math.tointeger(size[2])
  if not w or not h or w < 1 or h < 1 then return nil, "the answer has no image size" end
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
