extends SceneTree
## Drives the Godot plugin's own client code (connection.gd, protocol.gd, sprite_files.gd) against a live pixelsprite
## server, headless:
##
##   godot --headless --path PROJECT -s res://tests/client_test.gd -- ws://127.0.0.1:PORT
##
## Generates, saves into res://generated, exercises variations, interpolation (frames + SpriteFrames), palette export,
## candidates, cancel and a message far above WebSocketPeer's default 64 KiB buffer, then writes res://report.json
## for tests/plugins/test_godot.py, which checks the files, re-imports the project and runs import_check.gd.
## Exit status 0 when every check here passed.

const Protocol := preload("res://addons/pixelsprite/protocol.gd")
const Connection := preload("res://addons/pixelsprite/connection.gd")
const SpriteFiles := preload("res://addons/pixelsprite/sprite_files.gd")

const OUT := "res://generated"
const TIMEOUT_MS := 60000

var conn: Connection
var report := {"checks": [], "failures": []}


func _initialize() -> void:
	_run.call_deferred()


func check(ok: bool, what: String) -> void:
	report["checks"].append(what)
	if not ok:
		report["failures"].append(what)
		printerr("FAILED: " + what)


## Sends `msg` and waits for its result or error; returns {"answer": ..., "progress": [...]}.
func ask(msg: Dictionary, on_progress: Callable = Callable()) -> Dictionary:
	var box := {"answer": {}, "progress": []}
	var id := conn.request(msg, func(a: Dictionary) -> void:
		if a.get("type") == "progress":
			box["progress"].append(a)
			if on_progress.is_valid():
				on_progress.call(a)
		else:
			box["answer"] = a)
	var start := Time.get_ticks_msec()
	while box["answer"].is_empty() and Time.get_ticks_msec() - start < TIMEOUT_MS:
		conn.poll()
		await process_frame
	if box["answer"].is_empty():
		box["answer"] = {"type": "error", "code": "timeout", "message": "no answer to " + id}
	return box


func sha256(data: PackedByteArray) -> String:
	var ctx := HashingContext.new()
	ctx.start(HashingContext.HASH_SHA256)
	ctx.update(data)
	return ctx.finish().hex_encode()


func _run() -> void:
	var args := OS.get_cmdline_user_args()
	var url: String = args[0] if args.size() > 0 else Protocol.DEFAULT_URL
	report["godot"] = Engine.get_version_info()["string"]

	# -- nobody listening: the state says so in words and a reconnect is scheduled with back-off
	var lonely := Connection.new()
	lonely.open("ws://127.0.0.1:9")
	var t0 := Time.get_ticks_msec()
	while lonely.state != Connection.State.RETRY_WAIT and Time.get_ticks_msec() - t0 < 10000:
		lonely.poll()
		await process_frame
	check(lonely.state == Connection.State.RETRY_WAIT and lonely.status_text.contains("Is `pixelsprite serve` running")
		and lonely.status_text.contains("Retrying in 1 s"), "unreachable server: " + lonely.status_text)
	while lonely.state == Connection.State.RETRY_WAIT and Time.get_ticks_msec() - t0 < 10000:
		lonely.poll()
		await process_frame
	while lonely.state != Connection.State.RETRY_WAIT and Time.get_ticks_msec() - t0 < 10000:
		lonely.poll()
		await process_frame
	check(lonely.status_text.contains("Retrying in 2 s"), "second attempt backs off: " + lonely.status_text)
	lonely.close()
	check(lonely.state == Connection.State.DISCONNECTED, "close() stops retrying")

	# -- connect: buffers raised before connecting, hello version check
	conn = Connection.new()
	conn.auto_reconnect = false
	var states := []
	conn.state_changed.connect(func(s: int, text: String) -> void: states.append(text))
	check(conn.open(url) == OK, "open() starts connecting")
	var start := Time.get_ticks_msec()
	while not conn.is_ready() and conn.state != Connection.State.DISCONNECTED \
			and Time.get_ticks_msec() - start < TIMEOUT_MS:
		conn.poll()
		await process_frame
	check(conn.is_ready(), "connected and hello accepted: %s" % str(states))
	if not conn.is_ready():
		_finish()
		return
	check(int(conn.hello_answer["protocol"]) == Protocol.PROTOCOL, "hello protocol 1")
	report["hello"] = conn.hello_answer
	check(Protocol.check_hello({"server": "pixelsprite", "protocol": 2}).contains("protocol 2"),
		"a protocol 2 server is refused in words")

	var models := await ask(Protocol.models("m"))
	var names := []
	for m in models["answer"].get("models", []):
		names.append(m["name"])
	check(names.has("vae16"), "models lists vae16: %s" % str(names))

	# -- generate 8 and save them (PNG + pixel-art import settings); a second save overwrites nothing
	var settings := {"model": "vae16", "seed": 7}
	var gen := await ask(Protocol.generate("g1", 8, settings))
	var answer: Dictionary = gen["answer"]
	check(answer.get("type") == "result", "generate 8: %s" % Protocol.error_text(answer))
	var images := Protocol.result_images(answer)
	var seeds := Protocol.result_seeds(answer)
	check(images.size() == 8 and seeds == [7, 8, 9, 10, 11, 12, 13, 14], "8 images, seeds 7..14")
	var meta := []
	for i in images.size():
		meta.append({"seed": seeds[i], "index": i})
	var paths := SpriteFiles.plan_paths(OUT, "{model}-{seed}", meta, {"model": "vae16"})
	check(paths[0] == OUT + "/vae16-7.png", "naming pattern: " + paths[0])
	var saved := SpriteFiles.save_pngs(images, paths)
	check(saved["saved"].size() == 8 and saved["errors"].is_empty(), "saved 8 PNGs: %s" % str(saved))
	check(SpriteFiles.existing(paths).size() == 8, "all 8 exist")
	var again := SpriteFiles.save_pngs(images, paths)
	check(again["saved"].is_empty() and again["skipped"].size() == 8, "no overwrite without asking")
	for p in paths:
		var back := Image.load_from_file(ProjectSettings.globalize_path(p))
		check(back != null and back.get_size() == Vector2i(16, 16) and SpriteFiles.has_hard_alpha(back),
			"%s: 16x16, hard alpha" % p)
		check(FileAccess.file_exists(p + ".import"), p + ": pixel-art import settings written")
	report["generated"] = Array(paths)
	report["generated_sha256"] = images.map(func(img: Image) -> String: return sha256(img.get_data()))

	# -- a message far above 64 KiB: 1024 raw RGBA sprites (~1.4 MB of JSON) in one answer
	var big := await ask(Protocol.generate("big", 1024, {"model": "vae16", "seed": 1000, "image_format": "rgba"}))
	answer = big["answer"]
	check(answer.get("type") == "result", "generate 1024 rgba: %s" % Protocol.error_text(answer))
	var big_images := Protocol.result_images(answer)
	check(big_images.size() == 1024, "1024 images arrived")
	var all_ok := true
	for img in big_images:
		all_ok = all_ok and img != null and img.get_size() == Vector2i(16, 16) and SpriteFiles.has_hard_alpha(img)
	check(all_ok, "every big-answer image is 16x16 with hard alpha")
	check(conn.largest_frame_bytes > 1024 * 1024, "largest frame %d bytes > 1 MiB" % conn.largest_frame_bytes)
	check(big["progress"].size() >= 1, "progress messages for 1024 sprites: %d" % big["progress"].size())
	# the control: the same answer through a WebSocketPeer with Godot's default 64 KiB buffer closes it with 1009
	var plain := WebSocketPeer.new()
	plain.connect_to_url(url)
	var sent := false
	start = Time.get_ticks_msec()
	while plain.get_ready_state() != WebSocketPeer.STATE_CLOSED and Time.get_ticks_msec() - start < TIMEOUT_MS:
		plain.poll()
		if plain.get_ready_state() == WebSocketPeer.STATE_OPEN and not sent:
			plain.send_text(Protocol.encode(Protocol.generate("big", 1024,
				{"model": "vae16", "seed": 1000, "image_format": "rgba"})))
			sent = true
		while plain.get_available_packet_count() > 0:
			plain.get_packet()
		await process_frame
	report["default_buffer_close_code"] = plain.get_close_code()
	check(plain.get_close_code() == 1009, "with the default buffer the socket closes with 1009 (got %d)" % (
		plain.get_close_code()))
	report["largest_frame_bytes"] = conn.largest_frame_bytes
	report["big_sha256"] = big_images.map(func(img: Image) -> String: return sha256(img.get_data()) if img else "")
	# the same sprites as PNG, at 40x40: the other model, the other image format
	var big40 := await ask(Protocol.generate("big40", 256, {"model": "vae40", "seed": 5}))
	answer = big40["answer"]
	if names.has("vae40"):
		var imgs40 := Protocol.result_images(answer)
		check(imgs40.size() == 256 and imgs40[255] != null and imgs40[255].get_size() == Vector2i(40, 40),
			"256 PNG sprites at 40x40: %s" % Protocol.error_text(answer))

	# -- variations of a saved file (read back from res://, as the dock does for a FileSystem selection)
	var source := Image.load_from_file(ProjectSettings.globalize_path(paths[0]))
	var vars := await ask(Protocol.variations("v1", source, 4, 0.5, {"model": "vae16", "seed": 1}))
	answer = vars["answer"]
	check(answer.get("type") == "result" and Protocol.result_images(answer).size() == 4,
		"4 variations: %s" % Protocol.error_text(answer))
	var var_paths := SpriteFiles.plan_paths(OUT.path_join("variations"), "{model}-var-{seed}",
		range(4).map(func(i: int) -> Dictionary: return {"seed": Protocol.result_seeds(answer)[i], "index": i}),
		{"model": "vae16"})
	SpriteFiles.save_pngs(Protocol.result_images(answer), var_paths)

	# -- interpolation between two saved textures: frames + SpriteFrames
	var a := Image.load_from_file(ProjectSettings.globalize_path(paths[0]))
	var b := Image.load_from_file(ProjectSettings.globalize_path(paths[1]))
	var interp := await ask(Protocol.interpolate("i1", a, b, 6, "slerp", {"model": "vae16"}))
	answer = interp["answer"]
	var frames := Protocol.result_images(answer)
	check(frames.size() == 6, "6 interpolation frames: %s" % Protocol.error_text(answer))
	var frame_meta := []
	for i in frames.size():
		frame_meta.append({"seed": null, "index": i})
	var frame_paths := SpriteFiles.plan_paths(OUT.path_join("walk"), "{name}-{index}", frame_meta, {"name": "walk"})
	check(frame_paths[5] == OUT + "/walk/walk-005.png", "frame names: " + frame_paths[5])
	SpriteFiles.save_pngs(frames, frame_paths)
	check(SpriteFiles.save_sprite_frames(OUT.path_join("walk.tres"), Array(frame_paths), 10.0) == OK,
		"SpriteFrames .tres written")
	report["frames"] = Array(frame_paths)

	# -- palette export: .gpl from the server, ColorPalette .tres where this Godot has it
	var pal := await ask(Protocol.palette("p1", 8, "gpl", {"model": "vae16", "seed": 3, "palette_name": "demo"}))
	answer = pal["answer"]
	check(answer.get("type") == "result" and answer.get("colors", []).size() <= 8,
		"palette of <= 8 colours: %s" % Protocol.error_text(answer))
	var gpl: PackedByteArray = Marshalls.base64_to_raw(str(answer.get("file", "")))
	check(SpriteFiles.save_bytes(OUT.path_join("demo.gpl"), gpl) == OK, "palette .gpl written")
	report["palette_colors"] = answer.get("colors", [])
	report["has_color_palette"] = SpriteFiles.has_color_palette()
	if SpriteFiles.has_color_palette():
		check(SpriteFiles.save_color_palette(OUT.path_join("demo-palette.tres"), answer.get("colors", [])) == OK,
			"ColorPalette .tres written")
	var from_sprites := await ask(Protocol.palette("p2", 4, "gpl", {}, images.slice(0, 4)))
	check(from_sprites["answer"].get("type") == "result", "palette from sprites: %s" % Protocol.error_text(
		from_sprites["answer"]))

	# -- options: a palette-constrained generate; candidates (sent only when > 1) works or is refused in words
	var opts := Protocol.sprite_options({"model": "vae16", "candidates": 1, "seed": 3, "palette": "gameboy-dmg",
		"dither": "bayer2", "despeckle": true, "outline": "darkest"})
	check(not opts.has("candidates") and opts["seed"] is int, "candidates 1 is not sent; seeds are ints")
	var gb := await ask(Protocol.generate("gb", 4, {"model": "vae16", "seed": 3, "palette": "gameboy-dmg"}))
	check(gb["answer"].get("type") == "result", "palette gameboy-dmg: %s" % Protocol.error_text(gb["answer"]))
	var cand := await ask(Protocol.generate("cand", 2, {"model": "vae16", "seed": 3, "candidates": 4}))
	answer = cand["answer"]
	report["candidates"] = {"type": answer.get("type"), "text": Protocol.error_text(answer) if answer.get(
		"type") == "error" else "", "field": answer.get("field")}
	var label := await ask(Protocol.generate("lab", 2, {"model": "vae16", "label": "mon"}))
	check(label["answer"].get("type") == "error" and Protocol.error_text(label["answer"]).contains("(setting: label)"),
		"an unsupported setting is refused in words: " + Protocol.error_text(label["answer"]))

	# -- cancel a long generate after its first progress message
	var cancel_box := {"sent": false}
	var long := await ask(Protocol.generate("long", 1024, {"model": "vae16", "seed": 0}), func(_p: Dictionary) -> void:
		if not cancel_box["sent"]:
			cancel_box["sent"] = true
			conn.cancel("long"))
	answer = long["answer"]
	check(answer.get("code") == "cancelled" or (answer.get("type") == "result" and cancel_box["sent"]),
		"cancel stops a long generate: %s" % Protocol.error_text(answer))
	report["cancel"] = answer.get("code", answer.get("type"))

	# -- a drop is noticed: requests in flight get a local error, the state says why
	var pending := {"answer": {}}
	conn.request(Protocol.generate("drop", 64, {"model": "vae16", "seed": 1}), func(x: Dictionary) -> void:
		pending["answer"] = x)
	conn.close()
	check(pending["answer"].get("code") == "disconnected", "closing answers requests in flight locally")
	check(conn.request(Protocol.models("late")) == "", "no requests while disconnected")
	_finish()


func _finish() -> void:
	var f := FileAccess.open("res://report.json", FileAccess.WRITE)
	f.store_string(JSON.stringify(report, "  "))
	f.close()
	print("client_test: %d checks, %d failures" % [report["checks"].size(), report["failures"].size()])
	quit(1 if not report["failures"].is_empty() else 0)
