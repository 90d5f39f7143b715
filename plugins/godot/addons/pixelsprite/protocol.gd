@tool
extends RefCounted
## pixelsprite protocol v1 (docs/protocol.md) for Godot: builds request dictionaries, turns answers into Images, and
## says errors in plain words. Pure functions, no I/O: connection.gd moves the frames, the dock decides what to ask.

const PROTOCOL := 1
const CLIENT := "godot-pixelsprite"
const VERSION := "0.1.0"
const DEFAULT_URL := "ws://127.0.0.1:8737"

## Godot's WebSocketPeer closes the socket with 1009 on a message larger than its inbound buffer (64 KiB by default),
## and the buffer must be set before connecting. Answers are not size-limited by the server (1024 raw 40x40 sprites
## are ~8.7 MB as JSON), so the buffer is 32 MiB and a generate is split into requests of at most
## MAX_ANSWER_BYTES worst-case each (see sprites_per_request), leaving room for several answers between two polls.
const INBOUND_BUFFER_BYTES := 32 * 1024 * 1024
const MAX_ANSWER_BYTES := 8 * 1024 * 1024
## Requests carry images (variations, interpolation endpoints, palette sprites); the server reads frames up to 4 MiB.
const OUTBOUND_BUFFER_BYTES := 4 * 1024 * 1024
const MAX_QUEUED_PACKETS := 4096

## pixelsprite's built-in palettes (pixelsprite.palettes.builtin; a test keeps this list in sync).
const BUILTIN_PALETTES := ["pico-8", "db16", "db32", "endesga-16", "endesga-32", "aap-64", "resurrect-64",
	"sweetie-16", "lospec500", "gameboy-dmg", "nes", "cga"]
const DITHERS := ["none", "bayer2", "bayer4"]

## Error codes of the protocol, in words for people; the server's own message follows.
const ERROR_WORDS := {
	"malformed_frame": "The server could not read the request.",
	"invalid_request": "A setting is not valid.",
	"unknown_operation": "The server does not know this operation.",
	"unsupported_operation": "The server cannot do this yet.",
	"unsupported_parameter": "The chosen model cannot use this setting.",
	"unknown_model": "The server has no such model.",
	"invalid_image": "The server could not use the image.",
	"bundle_error": "The model's files are broken on the server.",
	"busy": "The server is busy; try again in a moment.",
	"cancelled": "Cancelled.",
	"shutting_down": "The server is shutting down.",
	"internal": "The server hit a bug (the connection is still usable).",
	"disconnected": "No connection to the server.",
}


# ------------------------------------------------------------------------------------------------ requests
static func hello(id: String) -> Dictionary:
	return {"id": id, "op": "hello", "client": CLIENT, "version": VERSION, "protocol": PROTOCOL}


static func models(id: String) -> Dictionary:
	return {"id": id, "op": "models"}


static func cancel(id: String, target: String) -> Dictionary:
	return {"id": id, "op": "cancel", "target": target}


## The generation settings the dock collects, as protocol parameters: only what is set, ints as ints (Godot's JSON
## writes a float 7.0 as "7.0", which the server rejects for an int parameter), candidates only when > 1.
static func sprite_options(settings: Dictionary) -> Dictionary:
	var p := {}
	if str(settings.get("model", "")) != "":
		p["model"] = str(settings["model"])
	if settings.get("seed") != null:
		p["seed"] = int(settings["seed"])
	if str(settings.get("label", "")) != "":
		p["label"] = str(settings["label"])
	if settings.get("steps") != null and int(settings["steps"]) > 0:
		p["steps"] = int(settings["steps"])
	if str(settings.get("solver", "")) != "":
		p["solver"] = str(settings["solver"])
	if settings.get("guidance") != null:
		p["guidance"] = float(settings["guidance"])
	if settings.get("temperature") != null:
		p["temperature"] = float(settings["temperature"])  # pixel models: (0, 2]
	if settings.get("candidates") != null and int(settings["candidates"]) > 1:
		p["candidates"] = int(settings["candidates"])
	var palette = settings.get("palette")
	if palette != null and str(palette) != "":
		p["palette"] = str(palette)
		if str(settings.get("dither", "none")) != "none":
			p["dither"] = str(settings["dither"])
	if settings.get("despeckle", false):
		p["despeckle"] = true
	if str(settings.get("outline", "")) != "":
		p["outline"] = str(settings["outline"])
	if settings.get("max_colors") != null:
		p["max_colors"] = int(settings["max_colors"])
	if settings.get("preview", false):
		p["preview"] = true  # only to a server whose hello lists it (see has_feature): older ones reject the key
	p["image_format"] = str(settings.get("image_format", "png"))
	return p


static func generate(id: String, count: int, settings: Dictionary) -> Dictionary:
	var msg := sprite_options(settings)
	msg["id"] = id
	msg["op"] = "generate"
	msg["count"] = count
	return msg


static func variations(id: String, image: Image, count: int, strength: float, settings: Dictionary) -> Dictionary:
	var msg := sprite_options(settings)
	msg.erase("label")  # the image is the condition
	msg["id"] = id
	msg["op"] = "variations"
	msg["image"] = image_payload(image)
	msg["count"] = count
	msg["strength"] = strength
	return msg


## `a` and `b` are Images or int seeds.
static func interpolate(id: String, a, b, frames: int, method: String, settings: Dictionary) -> Dictionary:
	var msg := sprite_options(settings)
	msg.erase("seed")
	msg.erase("label")
	msg.erase("preview")  # interpolate takes no preview
	msg.erase("temperature")  # nor a temperature (pixel models do not interpolate)
	msg["id"] = id
	msg["op"] = "interpolate"
	msg["a"] = a if typeof(a) == TYPE_INT else image_payload(a)
	msg["b"] = b if typeof(b) == TYPE_INT else image_payload(b)
	msg["count"] = frames
	msg["method"] = method
	return msg


## `count` repaintings of the `mask` pixels of `image` (models whose `operations` list "inpaint"); every other pixel
## comes back exactly as it is. `mask` is an Image of the same size (see rect_mask); inpaint takes no candidates.
static func inpaint(id: String, image: Image, mask: Image, count: int, settings: Dictionary) -> Dictionary:
	var msg := sprite_options(settings)
	msg.erase("candidates")
	msg["id"] = id
	msg["op"] = "inpaint"
	msg["image"] = image_payload(image)
	msg["mask"] = image_payload(mask)
	msg["count"] = count
	return msg


## A repaint mask of `size` for the rectangle `rect` (clipped to the sprite): white where pixels are repainted, black
## where they are kept, all opaque (a mask without transparent pixels is read by its white pixels; docs/protocol.md).
static func rect_mask(size: Vector2i, rect: Rect2i) -> Image:
	var mask := Image.create(size.x, size.y, false, Image.FORMAT_RGBA8)
	mask.fill(Color(0, 0, 0, 1))
	var r := rect.intersection(Rect2i(Vector2i.ZERO, size))
	if r.has_area():
		mask.fill_rect(r, Color(1, 1, 1, 1))
	return mask


## A palette proposed from `sprites` (Images) if any, else from `count` samples of the model.
static func palette(id: String, colors: int, file_format: String, settings: Dictionary, sprites: Array = [],
		count: int = 64) -> Dictionary:
	var msg := {"id": id, "op": "palette", "colors": colors, "format": file_format}
	if sprites.is_empty():
		if str(settings.get("model", "")) != "":
			msg["model"] = str(settings["model"])
		if settings.get("seed") != null:
			msg["seed"] = int(settings["seed"])
		msg["count"] = count
	else:
		var images := []
		for s in sprites:
			images.append(image_payload(s))
		msg["sprites"] = images
	if str(settings.get("palette_name", "")) != "":
		msg["name"] = str(settings["palette_name"])
	return msg


## An image as the protocol takes it: `{"png": base64}` (PNG keeps it small and carries its own size).
static func image_payload(image: Image) -> Dictionary:
	var img := image
	if img.get_format() != Image.FORMAT_RGBA8:
		img = image.duplicate()
		img.convert(Image.FORMAT_RGBA8)
	return {"png": Marshalls.raw_to_base64(img.save_png_to_buffer())}


static func encode(msg: Dictionary) -> String:
	return JSON.stringify(msg)


# ------------------------------------------------------------------------------------------------- answers
## A text frame as a Dictionary, or {} if it is not a JSON object.
static func decode(text: String) -> Dictionary:
	var parsed = JSON.parse_string(text)
	if typeof(parsed) != TYPE_DICTIONARY:
		return {}
	return parsed


## A version check of a `hello` answer: "" if this client can talk to that server, else why not, in words.
static func check_hello(answer: Dictionary) -> String:
	if str(answer.get("server", "")) != "pixelsprite":
		return "This is not a pixelsprite server."
	var proto := int(answer.get("protocol", -1))
	if proto != PROTOCOL:
		return "The server speaks protocol %d; this plugin speaks protocol %d. Update the %s." % [
			proto, PROTOCOL, "plugin" if proto > PROTOCOL else "server (pip install -U pixelsprite)"]
	return ""


## Whether the server's `hello` answer lists an optional behaviour of protocol 1 in `features` (e.g. "preview").
static func has_feature(hello_answer: Dictionary, feature: String) -> bool:
	var features = hello_answer.get("features", [])
	return typeof(features) == TYPE_ARRAY and features.has(feature)


## The Images of a sprite result (`generate`, `variations`, `interpolate`, `grid`, `decode`; also a `progress`
## answer's preview `images`, which read the same), in order. An image that does not decode is null in the list (and
## the caller reports it).
static func result_images(answer: Dictionary) -> Array:
	var out := []
	var size: Array = answer.get("size", [0, 0])
	var fmt := str(answer.get("image_format", "png"))
	for b64 in answer.get("images", []):
		var data: PackedByteArray = Marshalls.base64_to_raw(str(b64))
		out.append(image_from_bytes(data, fmt, int(size[0]), int(size[1])))
	return out


static func image_from_bytes(data: PackedByteArray, fmt: String, width: int, height: int) -> Image:
	if fmt == "rgba":
		if width <= 0 or height <= 0 or data.size() != width * height * 4:
			return null
		return Image.create_from_data(width, height, false, Image.FORMAT_RGBA8, data)
	var img := Image.new()
	if img.load_png_from_buffer(data) != OK:
		return null
	if img.get_format() != Image.FORMAT_RGBA8:
		img.convert(Image.FORMAT_RGBA8)
	return img


## Seeds of a sprite result as ints (JSON numbers arrive as floats; null stays null).
static func result_seeds(answer: Dictionary) -> Array:
	var out := []
	for s in answer.get("seeds", []):
		out.append(null if s == null else int(s))
	return out


## An `error` answer in plain words: what went wrong, the server's message, and the setting at fault.
static func error_text(answer: Dictionary) -> String:
	var code := str(answer.get("code", "internal"))
	var words: String = ERROR_WORDS.get(code, ERROR_WORDS["internal"])
	var message := str(answer.get("message", ""))
	var field = answer.get("field")
	var text := words
	if message != "":
		text += " " + message[0].to_upper() + message.substr(1)
		if not text.ends_with("."):
			text += "."
	if field != null and str(field) != "" and code != "cancelled":
		text += " (setting: %s)" % str(field)
	return text


## A close of the socket in words (the codes the server and Godot use).
static func close_text(code: int, reason: String) -> String:
	match code:
		1000, 1001:
			return "The server closed the connection." if reason == "" else "The server closed the connection: %s" % reason
		1009:
			return "An answer was larger than the plugin's receive buffer (%d MiB); ask for fewer sprites." % (
				INBOUND_BUFFER_BYTES / (1024 * 1024))
		-1:
			return "Could not reach the server. Is `pixelsprite serve` running?"
	return "The connection closed (code %d)%s." % [code, "" if reason == "" else ": " + reason]


## How many sprites of `width` x `height` one request may ask for so that its answer, in the worst case (raw RGBA or a
## PNG that did not compress, base64 in JSON), stays under MAX_ANSWER_BYTES; at least 1, at most `max_count`.
static func sprites_per_request(width: int, height: int, max_count: int = 1024) -> int:
	var worst := int(ceil((width * height * 4 + height + 256) * 4.0 / 3.0)) + 32
	return clampi((MAX_ANSWER_BYTES - 4096) / max(worst, 1), 1, max_count)
