-- Base64 (standard alphabet, with padding) for the protocol's byte fields: Aseprite's Lua has none built in.
local M = {}

local ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local ENC, DEC = {}, {}
for i = 1, 64 do
  local c = ALPHABET:sub(i, i)
  ENC[i - 1] = c
  DEC[c:byte()] = i - 1
end

function M.encode(data)
  local out, n = {}, #data
  for i = 1, n, 3 do
    local a, b, c = data:byte(i, i + 2)
    local v = (a << 16) | ((b or 0) << 8) | (c or 0)
    out[#out + 1] = ENC[(v >> 18) & 63] .. ENC[(v >> 12) & 63]
      .. (b and ENC[(v >> 6) & 63] or "=") .. (c and ENC[v & 63] or "=")
  end
  return table.concat(out)
end

-- Returns the bytes, or nil and a message when the text is not base64.
function M.decode(text)
  if type(text) ~= "string" or #text % 4 ~= 0 then
    return nil, "base64 text must be a string whose length is a multiple of 4"
  end
  local out = {}
  for i = 1, #text, 4 do
    local c1, c2, c3, c4 = text:byte(i, i + 3)
    local a, b = DEC[c1], DEC[c2]
    local c, d = 0, 0
    if c3 ~= 61 then c = DEC[c3] end
    if c4 ~= 61 then d = DEC[c4] end
    if not a or not b or not c or not d or (c3 == 61 and c4 ~= 61) or ((c3 == 61 or c4 == 61) and i + 3 < #text) then
      return nil, "invalid base64 near character " .. i
    end
    local v = (a << 18) | (b << 12) | (c << 6) | d
    if c3 == 61 then
      out[#out + 1] = string.char((v >> 16) & 255)
    elseif c4 == 61 then
      out[#out + 1] = string.char((v >> 16) & 255, (v >> 8) & 255)
    else
      out[#out + 1] = string.char((v >> 16) & 255, (v >> 8) & 255, v & 255)
    end
  end
  return table.concat(out)
end

return M
