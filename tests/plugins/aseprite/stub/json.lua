-- Test double of Aseprite's global `json` (since v1.3-rc5), rebuilt from Aseprite's source, not from memory:
--   aseprite/aseprite src/app/script/json_class.cpp (read at commit d586b3f3f; the file last changed in eeb5be9be),
--   aseprite/aseprite tests/scripts/json.lua (Aseprite's own tests of this API),
--   aseprite/api api/json.md, and json11 (third_party/json11: parser and dump format).
-- The point of the double: json.decode does NOT return a Lua table. It returns a userdata proxy ("JsonObj") whose
-- numbers come back as floats, whose pairs() yields nothing for arrays, and which json.encode turns into null when
-- it sits inside a Lua table. Code that tests `type(x) == "table"` on a decoded message rejects every message.
--
-- Returns { json = <the global json table>, plain = <test helper: proxy -> plain Lua values>, is_proxy = fn }.
local M = {}

-- The proxies must be real userdata, as in Aseprite (push_obj creates a C++ object in a full userdata): type() says
-- "userdata", next()/rawget() refuse it. Pure Lua cannot create userdata, but every full userdata may have its own
-- metatable, so the double takes a closed file handle and gives it the JsonObj metatable.
local real_open = io.open
local NULL = { k = "null" }
local nodes = setmetatable({}, { __mode = "k" })  -- proxy -> json11 value (shared, as json11::Json is)
local ProxyMT

-- push_obj(L, json11::Json): a new JsonObj userdata that shares the value (json_class.cpp push_json_value).
local function push_obj(node)
  local u = assert(real_open("/dev/null", "rb"))
  u:close()
  debug.setmetatable(u, ProxyMT)
  nodes[u] = node
  return u
end

-- push_json_value (json_class.cpp): NUL -> nil, NUMBER -> lua_pushnumber (always a float, even for 5),
-- BOOL -> boolean, STRING -> string, ARRAY/OBJECT -> a new JsonObj proxy of the same value.
local function push_value(node)
  if node == nil or node.k == "null" then return nil end
  if node.k == "number" then return node.v + 0.0 end
  if node.k == "bool" or node.k == "string" then return node.v end
  return push_obj(node)
end

-- lua_tostring(L, 2) on a key: strings as they are, numbers converted ("1", "1.0"), anything else NULL.
local function lua_tostring(v)
  if type(v) == "string" then return v end
  if type(v) == "number" then return tostring(v) end
  return nil
end

-- lua_tointeger(L, 2): integers, integral floats and numeric strings; anything else 0.
local function lua_tointeger(v)
  local n = tonumber(v)
  return n and math.tointeger(n) or 0
end

-- get_json_value (json_class.cpp): a Lua value -> json11 value. nil -> null, numbers -> double (lua_tonumber, so
-- json11 dumps them with "%.17g"), tables -> array when is_array_table (values.cpp: every key, in next() order, is
-- the integer 1, 2, 3...; an empty table is an array) else object (keys by lua_tostring; other keys are skipped),
-- userdata -> null ("TODO convert rectangles, point, size, uuids?"), so a JsonObj nested in a Lua table is null.
local function from_lua(v)
  local t = type(v)
  if t == "nil" then return NULL end
  if t == "boolean" then return { k = "bool", v = v } end
  if t == "number" then return { k = "number", v = v + 0.0, int = false } end
  if t == "string" then return { k = "string", v = v } end
  if t == "table" then
    local i, array = 0, true
    for k in next, v do
      if math.type(k) == "integer" then
        i = i + 1
        if k ~= i then array = false; break end
      else
        array = false; break
      end
    end
    if array then
      local items = {}
      for _, x in next, v do items[#items + 1] = from_lua(x) end
      return { k = "array", v = items, n = #items }
    end
    local items = {}
    for k, x in next, v do
      local key = lua_tostring(k)
      if key then items[key] = from_lua(x) end
    end
    return { k = "object", v = items }
  end
  return NULL
end

-- json11 dump(): "%.17g" for doubles, "%d" for numbers parsed as ints, null for non-finite; strings escaped as
-- json11 does; arrays "[a, b]" and objects {"k": v, ...} with ", " and ": ", keys in std::map (byte) order.
local ESC = { ['\\'] = '\\\\', ['"'] = '\\"', ['\b'] = '\\b', ['\f'] = '\\f', ['\n'] = '\\n', ['\r'] = '\\r',
              ['\t'] = '\\t' }
local function dump(node, out)
  local k = node.k
  if k == "null" then out[#out + 1] = "null"
  elseif k == "bool" then out[#out + 1] = tostring(node.v)
  elseif k == "number" then
    if node.int then out[#out + 1] = string.format("%d", math.tointeger(node.v))
    elseif node.v ~= node.v or node.v == math.huge or node.v == -math.huge then out[#out + 1] = "null"
    else out[#out + 1] = string.format("%.17g", node.v) end
  elseif k == "string" then
    out[#out + 1] = '"' .. node.v:gsub('[\0-\31\\"]', function(c)
      return ESC[c] or string.format("\\u%04x", c:byte())
    end):gsub("\226\128\168", "\\u2028"):gsub("\226\128\169", "\\u2029") .. '"'
  elseif k == "array" then
    out[#out + 1] = "["
    for i = 1, node.n do
      if i > 1 then out[#out + 1] = ", " end
      dump(node.v[i] or NULL, out)
    end
    out[#out + 1] = "]"
  else
    local keys = {}
    for key in pairs(node.v) do keys[#keys + 1] = key end
    table.sort(keys)
    out[#out + 1] = "{"
    for i, key in ipairs(keys) do
      if i > 1 then out[#out + 1] = ", " end
      dump({ k = "string", v = key }, out)
      out[#out + 1] = ": "
      dump(node.v[key], out)
    end
    out[#out + 1] = "}"
  end
  return out
end

-- json11 Json::parse: whitespace is space, \t, \r, \n; numbers follow the JSON grammar, and one without fraction or
-- exponent and at most 9 digits (numeric_limits<int>::digits10) is an int (dumped with "%d"), otherwise strtod.
-- Errors raise (Json_decode: luaL_error with json11's message); the double's messages are json11-like, not equal.
local function parse(s)
  local i = 1
  local function fail(msg) error(msg, 0) end
  local function skip() i = s:find("[^ \t\r\n]", i) or #s + 1 end
  local value
  local function str()
    i = i + 1
    local out = {}
    while true do
      local j = s:find('["\\\0-\31]', i)
      if not j then fail("unexpected end of input in string") end
      out[#out + 1] = s:sub(i, j - 1)
      local c = s:sub(j, j)
      if c == '"' then i = j + 1; return table.concat(out) end
      if c ~= "\\" then fail("unescaped " .. string.format("(%d)", c:byte()) .. " in string") end
      local e = s:sub(j + 1, j + 1)
      local simple = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }
      if simple[e] then
        out[#out + 1] = simple[e]; i = j + 2
      elseif e == "u" then
        local hex = s:match("^%x%x%x%x", j + 2)
        if not hex then fail("bad \\u escape: " .. s:sub(j + 2, j + 5)) end
        local cp = tonumber(hex, 16)
        i = j + 6
        local lo = cp >= 0xD800 and cp <= 0xDBFF and s:match("^\\u(%x%x%x%x)", i)
        if lo and tonumber(lo, 16) >= 0xDC00 and tonumber(lo, 16) <= 0xDFFF then
          cp = 0x10000 + ((cp - 0xD800) << 10) + (tonumber(lo, 16) - 0xDC00)
          i = i + 6
        end
        out[#out + 1] = utf8.char(cp)
      else
        fail("invalid escape character " .. e)
      end
    end
  end
  function value(depth)
    if depth > 200 then fail("exceeded maximum nesting depth") end
    skip()
    local c = s:sub(i, i)
    if c == "" then fail("unexpected end of input") end
    if c == "{" then
      local items = {}
      i = i + 1; skip()
      if s:sub(i, i) == "}" then i = i + 1; return { k = "object", v = items } end
      while true do
        skip()
        if s:sub(i, i) ~= '"' then fail("expected '\"' in object, got " .. s:sub(i, i)) end
        local key = str()
        skip()
        if s:sub(i, i) ~= ":" then fail("expected ':' in object, got " .. s:sub(i, i)) end
        i = i + 1
        items[key] = value(depth + 1)
        skip()
        local d = s:sub(i, i); i = i + 1
        if d == "}" then return { k = "object", v = items } end
        if d ~= "," then fail("expected ',' in object, got " .. d) end
      end
    elseif c == "[" then
      local items, n = {}, 0
      i = i + 1; skip()
      if s:sub(i, i) == "]" then i = i + 1; return { k = "array", v = items, n = 0 } end
      while true do
        n = n + 1
        items[n] = value(depth + 1)
        skip()
        local d = s:sub(i, i); i = i + 1
        if d == "]" then return { k = "array", v = items, n = n } end
        if d ~= "," then fail("expected ',' in list, got " .. d) end
      end
    elseif c == '"' then return { k = "string", v = str() }
    elseif s:sub(i, i + 3) == "true" then i = i + 4; return { k = "bool", v = true }
    elseif s:sub(i, i + 4) == "false" then i = i + 5; return { k = "bool", v = false }
    elseif s:sub(i, i + 3) == "null" then i = i + 4; return NULL
    elseif c == "-" or c:match("%d") then
      local num = s:match("^-?0", i) or s:match("^-?[1-9]%d*", i)
      if not num then fail("invalid number") end
      local intpart = num
      local frac = s:match("^%.%d+", i + #num) or ""
      if s:sub(i + #num, i + #num) == "." and frac == "" then fail("at least one digit required in fractional part") end
      num = num .. frac
      local exp = s:match("^[eE][-+]?%d+", i + #num) or ""
      num = num .. exp
      i = i + #num
      local digits = #intpart:gsub("^-", "")
      if frac == "" and exp == "" and digits <= 9 then return { k = "number", v = tonumber(num) + 0.0, int = true } end
      return { k = "number", v = tonumber(num) + 0.0, int = false }
    end
    fail("expected value, got " .. c)
  end
  local v = value(0)
  skip()
  if i <= #s then fail("unexpected trailing " .. s:sub(i, i)) end
  return v
end

-- The JsonObj metatable (json_class.cpp JsonObj_methods).
ProxyMT = { __name = "JsonObj" }

-- json_class.cpp JsonObj_index: objects look the key up by lua_tostring (absent -> nil); arrays by lua_tointeger(key)
-- - 1 (out of range, 0, negative or non-numeric -> nil); strings, numbers, booleans and null proxies index to
-- nothing.
function ProxyMT.__index(u, key)
  local node = nodes[u]
  if node.k == "object" then
    local k = lua_tostring(key)
    if k then return push_value(node.v[k]) end
  elseif node.k == "array" then
    local n = lua_tointeger(key)
    if n >= 1 and n <= node.n then return push_value(node.v[n]) end
    return nil
  end
  return nil
end

-- json_class.cpp JsonObj_newindex (fixed in eeb5be9be, v1.3.2): objects set the key (a Lua nil stores a JSON null,
-- the key stays); arrays set index i > 0 (set_array_item grows the array, filling with nulls); other values ignore
-- it.
function ProxyMT.__newindex(u, key, value)
  local node = nodes[u]
  if node.k == "object" then
    local k = lua_tostring(key)
    if k then node.v[k] = from_lua(value) end
  elseif node.k == "array" then
    local n = lua_tointeger(key)
    if n > 0 then
      for j = node.n + 1, n - 1 do node.v[j] = NULL end
      node.v[n] = from_lua(value)
      if n > node.n then node.n = n end
    end
  end
end

-- json_class.cpp JsonObj_len: string -> its length, array -> items, object -> keys, null -> nil, number/bool -> 1.
function ProxyMT.__len(u)
  local node = nodes[u]
  if node.k == "string" then return #node.v end
  if node.k == "array" then return node.n end
  if node.k == "object" then
    local n = 0
    for _ in pairs(node.v) do n = n + 1 end
    return n
  end
  if node.k == "null" then return nil end
  return 1
end

-- json_class.cpp JsonObj_pairs: objects iterate their keys in std::map order. Arrays get JsonObj_ipairs_next, which
-- returns 0 values ("return 0;" in json_class.cpp), so `pairs(array)` yields nothing; use ipairs (Lua 5.4's ipairs
-- indexes through __index) or 1..#a. Scalars return nothing at all, so `pairs(scalar)` raises.
function ProxyMT.__pairs(u)
  local node = nodes[u]
  if node.k == "object" then
    local keys = {}
    for key in pairs(node.v) do keys[#keys + 1] = key end
    table.sort(keys)
    local j = 0
    return function()
      j = j + 1
      local key = keys[j]
      if key == nil then return nil end
      return key, push_value(node.v[key])
    end, u
  elseif node.k == "array" then
    return function() return nil end, u
  end
end

-- json_class.cpp JsonObj_tostring: json11 dump of the value.
function ProxyMT.__tostring(u) return table.concat(dump(nodes[u], {})) end

-- json_class.cpp JsonObj_eq: json11 value equality (two proxies of equal data are ==).
function ProxyMT.__eq(a, b) return tostring(a) == tostring(b) end

local json = {}

-- json_class.cpp Json_decode: a string (or number, by lua_tostring) -> a JsonObj proxy for ANY JSON value, a scalar
-- included; a parse error raises json11's message; other arguments return nothing.
function json.decode(s)
  if type(s) ~= "string" and type(s) ~= "number" then return end
  s = tostring(s)
  -- json11 gets strlen(s): text after an embedded NUL is not seen
  s = s:match("^[^\0]*")
  return push_obj(parse(s))
end

-- json_class.cpp Json_encode: a JsonObj -> its dump; a Lua table -> get_json_value(...).dump(); anything else returns
-- nothing.
function json.encode(v)
  if nodes[v] then return table.concat(dump(nodes[v], {})) end
  if type(v) == "table" then return table.concat(dump(from_lua(v), {})) end
end

M.json = json

-- Test helper (not Aseprite API): whether a value is one of the double's JsonObj proxies.
function M.is_proxy(v) return nodes[v] ~= nil end

-- Test helper (not Aseprite API): the plain Lua value of a proxy, for assertions in specs. Numbers stay floats.
function M.plain(v)
  local node = nodes[v]
  if not node then return v end
  local function conv(n)
    if n.k == "null" then return nil end
    if n.k == "number" then return n.v end
    if n.k == "bool" or n.k == "string" then return n.v end
    local out = {}
    if n.k == "array" then
      for i = 1, n.n do out[i] = conv(n.v[i] or NULL) end
    else
      for key, x in pairs(n.v) do out[key] = conv(x) end
    end
    return out
  end
  return conv(node)
end

return M
