extends SceneTree
## The dock itself (dock.gd, as the EditorPlugin builds it) against a live pixelsprite server, headless: connect,
## models fill the fields, Generate fills the nearest-filtered preview, Save writes PNGs into res://, a second Save asks
## before overwriting, an unsupported setting shows the server's error in words. With a second server (tiny diffusion
## and flow models, previews unthrottled): a flow generate asks for previews, draws them (not selectable) before the
## result replaces them, and a cancel removes them.
##
##   godot --headless --path PROJECT -s res://tests/dock_test.gd -- ws://127.0.0.1:PORT [ws://127.0.0.1:PORT2]
##
## Outside the editor (Engine.is_editor_hint() is false) the dock skips only the editor calls (filesystem scan,
## FileSystem selection, remembered settings). Writes res://dock_report.json; exit status 0 when every check passed.

const Connection := preload("res://addons/pixelsprite/connection.gd")
const Dock := preload("res://addons/pixelsprite/dock.gd")

const TIMEOUT_MS := 30000

var conn: Connection
var dock
var report := {"checks": [], "failures": []}


func check(ok: bool, what: String) -> void:
	report["checks"].append(what)
	if not ok:
		report["failures"].append(what)
		printerr("FAILED: " + what)


func _initialize() -> void:
	_run.call_deferred()


func wait_until(cond: Callable) -> bool:
	var start := Time.get_ticks_msec()
	while not cond.call():
		if Time.get_ticks_msec() - start > TIMEOUT_MS:
			return false
		conn.poll()  # what the EditorPlugin's _process does
		await process_frame
	return true


func _run() -> void:
	var args := OS.get_cmdline_user_args()
	conn = Connection.new()
	conn.auto_reconnect = false
	dock = Dock.new()
	dock.setup(conn)
	root.add_child(dock)
	await process_frame
	check(dock._generate.disabled, "Generate is disabled until connected")
	dock._url.text = args[0]
	dock._on_connect_pressed()
	check(await wait_until(func() -> bool: return dock._model.item_count > 0), "models arrive: " + dock._status.text)
	check(dock._status.text.begins_with("Connected to pixelsprite"), "status line: " + dock._status.text)
	check(not dock._generate.disabled, "Generate is enabled once connected")
	check(dock._model.get_item_text(dock._model.selected) == "pixel16", "the default model is selected")
	check(not dock._label.disabled and dock._steps.editable and dock._guidance.editable,
		"pixel16 takes a label, steps and guidance")
	for i in dock._model.item_count:  # the rest drives the VAE: latent interpolation, one-pass generation
		if dock._model.get_item_text(i) == "vae16":
			dock._model.select(i)
	dock._on_model_changed()
	check(dock._model.get_item_text(dock._model.selected) == "vae16", "vae16 chosen")
	check(dock._size.text.begins_with("16 x 16"), "size shown: " + dock._size.text)
	check(dock._label.disabled and not dock._steps.editable and dock._solver.disabled and not dock._guidance.editable,
		"a VAE takes no label, steps, solver or guidance")
	check(dock._preview.texture_filter == CanvasItem.TEXTURE_FILTER_NEAREST, "the preview is never smoothed")

	dock._count.value = 6
	dock._seed.text = "7"
	var s: Dictionary = dock.settings()
	check(s["seed"] == 7 and not s.has("label") and not s.has("steps") and not s.has("solver")
		and s["candidates"] == 1, "settings: %s" % str(s))
	var sent: Dictionary = load("res://addons/pixelsprite/protocol.gd").generate("x", 4, s)
	check(not sent.has("candidates") and not sent.has("palette") and sent["count"] == 4 and sent["seed"] == 7,
		"the request: %s" % str(sent))
	dock._on_generate_pressed()
	check(not dock._cancel.disabled, "Cancel is enabled while generating")
	check(await wait_until(func() -> bool: return dock._job.is_empty()), "generate finishes")
	check(dock._preview.item_count == 6, "6 sprites in the preview (%d): %s" % [
		dock._preview.item_count, dock._message.text])
	check(dock._progress.value == 1.0, "progress bar full")
	check(dock._preview.fixed_icon_size == Vector2i(64, 64), "icons at integer zoom 4")

	dock._folder.text = "res://dock_out"
	dock._pattern.text = "{model}-{seed}"
	dock._preview.select(0)
	dock._preview.select(2, false)
	dock._save_preview(true)
	check(FileAccess.file_exists("res://dock_out/vae16-7.png") and FileAccess.file_exists("res://dock_out/vae16-9.png")
		and not FileAccess.file_exists("res://dock_out/vae16-8.png"), "Save selected writes the 2 selected sprites")
	var before := FileAccess.get_modified_time("res://dock_out/vae16-7.png")
	dock._save_preview(false)
	check(dock._confirm.visible and dock._confirm.dialog_text.contains("2 of 6 files already exist"),
		"saving over existing files asks first: " + dock._confirm.dialog_text)
	dock._on_overwrite_custom(&"skip")
	check(FileAccess.file_exists("res://dock_out/vae16-12.png"), "Skip existing writes the new files")
	check(FileAccess.get_modified_time("res://dock_out/vae16-7.png") == before, "and keeps the existing ones")
	dock._save_preview(false)
	check(dock._confirm.visible and dock._confirm.dialog_text.contains("6 of 6"), "asks again for all 6")
	dock._confirm.hide()
	dock._folder.text = "/tmp/elsewhere"
	dock._save_preview(false)
	check(dock._message.text.contains("res://"), "only folders inside the project: " + dock._message.text)

	# textures "selected in the FileSystem dock" (the editor's selection, replaced here)
	var selection := {"paths": PackedStringArray()}
	dock.selection_provider = func() -> PackedStringArray: return selection["paths"]
	dock._folder.text = "res://dock_out"
	dock._count.value = 5
	dock._on_variations_pressed()
	check(dock._message.text.contains("Select one texture"), "variations without a selection: " + dock._message.text)
	selection["paths"] = PackedStringArray(["res://dock_out/vae16-7.png"])
	dock._on_variations_pressed()
	check(await wait_until(func() -> bool: return dock._job.is_empty()), "variations finish")
	check(dock._preview.item_count == 5, "5 variations in the preview: " + dock._message.text)
	var big := Image.create(32, 32, false, Image.FORMAT_RGBA8)
	big.save_png("res://dock_out/big.png")
	selection["paths"] = PackedStringArray(["res://dock_out/big.png"])
	dock._on_variations_pressed()
	check(dock._message.text.contains("is 32x32") and dock._job.is_empty(), "wrong size: " + dock._message.text)
	selection["paths"] = PackedStringArray(["res://dock_out/vae16-7.png", "res://dock_out/vae16-9.png"])
	dock._frames.value = 5
	dock._on_interpolate_pressed()
	check(await wait_until(func() -> bool: return dock._job.is_empty()), "interpolation finishes")
	check(dock._preview.item_count == 5, "5 frames in the preview: " + dock._message.text)
	check(FileAccess.file_exists("res://dock_out/vae16-7-to-vae16-9/vae16-7-to-vae16-9-004.png")
		and FileAccess.file_exists("res://dock_out/vae16-7-to-vae16-9.tres"),
		"frames and SpriteFrames saved: " + dock._message.text)
	report["interpolate_message"] = dock._message.text
	dock._preview.deselect_all()
	dock._pal_colors.value = 6
	dock._on_palette_pressed()
	check(await wait_until(func() -> bool: return dock._job.is_empty()), "palette finishes")
	check(FileAccess.file_exists("res://dock_out/pixelsprite-palette.gpl"), "palette .gpl: " + dock._message.text)
	check(FileAccess.file_exists("res://dock_out/pixelsprite-palette.tres") == ClassDB.class_exists("ColorPalette"),
		"ColorPalette .tres where the engine has it: " + dock._message.text)
	report["palette_message"] = dock._message.text

	# candidates > 1 is sent; a server without a teacher refuses it in words, a server with one answers
	dock._candidates.value = 3
	dock._count.value = 2
	dock._on_generate_pressed()
	check(await wait_until(func() -> bool: return dock._job.is_empty()), "candidates request finishes")
	report["candidates_message"] = dock._message.text
	check(dock._message.text.contains("candidates") or dock._preview.item_count == 2,
		"candidates: refused in words or answered: " + dock._message.text)
	dock._candidates.value = 1

	# cancel a long generate
	dock._count.value = 1024
	dock._on_generate_pressed()
	await wait_until(func() -> bool: return dock._progress.value > 0.0 or dock._job.is_empty())
	dock._on_cancel_pressed()
	check(await wait_until(func() -> bool: return dock._job.is_empty()), "cancel ends the job")
	check(dock._message.text.begins_with("Cancelled") or dock._preview.item_count == 1024,
		"cancel: " + dock._message.text)
	check(not dock._generate.disabled, "Generate is enabled again after cancel")

	# a dropped connection shows in the status line and disables Generate
	conn.close()
	check(dock._status.text == "Not connected." and dock._generate.disabled, "disconnect: " + dock._status.text)
	check(dock._filter_note.text.contains("Nearest"), "the texture filter note: " + dock._filter_note.text)

	# the project's default canvas texture filter: explained, changed only after confirming
	ProjectSettings.set_setting(dock.FILTER_SETTING, 1)  # Linear, as in a new project
	dock._refresh_filter_note()
	check(not dock._filter_button.disabled and dock._filter_note.text.contains("Linear filtering"),
		"a Linear project is offered Nearest: " + dock._filter_note.text)
	dock._on_filter_pressed()
	var ask: ConfirmationDialog = null
	for child in dock.get_children():
		if child is ConfirmationDialog and child.visible and child.dialog_text.contains("Default Texture Filter"):
			ask = child
	check(ask != null and ask.dialog_text.contains("without smoothing"), "the question says what changes")
	check(int(ProjectSettings.get_setting(dock.FILTER_SETTING)) == 1, "nothing changes before confirming")
	if ask != null:
		ask.confirmed.emit()
	check(int(ProjectSettings.get_setting(dock.FILTER_SETTING)) == 0 and dock._filter_button.disabled,
		"confirmed: Nearest")
	check(FileAccess.get_file_as_string("res://project.godot").contains(
		"textures/canvas_textures/default_texture_filter=0"), "project.godot saved with Nearest")

	if args.size() > 1:
		await _previews(args[1])

	var f := FileAccess.open("res://dock_report.json", FileAccess.WRITE)
	f.store_string(JSON.stringify(report, "  "))
	f.close()
	print("dock_test: %d checks, %d failures" % [report["checks"].size(), report["failures"].size()])
	dock.queue_free()
	quit(1 if not report["failures"].is_empty() else 0)


## Previews of a flow model's steps: requested because hello lists them, drawn before the result, never pickable.
func _previews(url: String) -> void:
	dock._url.text = url
	dock._on_connect_pressed()
	check(await wait_until(func() -> bool: return dock._models.has("tflow")), "iterative models arrive: " + dock._status.text)
	check(load("res://addons/pixelsprite/protocol.gd").has_feature(conn.hello_answer, "preview"), "hello lists preview")
	for i in dock._model.item_count:
		if dock._model.get_item_text(i) == "tflow":
			dock._model.select(i)
	dock._on_model_changed()
	dock._count.value = 2
	dock._seed.text = "4"
	dock._steps.value = 4
	var s: Dictionary = dock.settings()
	check(s.get("preview") == true and s["steps"] == 4, "settings ask for previews: %s" % str(s))
	var protocol = load("res://addons/pixelsprite/protocol.gd")
	check(protocol.generate("x", 2, s).get("preview") == true
		and not protocol.interpolate("x", 1, 2, 3, "slerp", s).has("preview"), "generate sends preview, interpolate not")
	dock._on_generate_pressed()
	var id := str(dock._job.get("id", ""))
	var seen := {"previews": 0, "items": [], "selectable": false, "result": false}
	var original: Callable = conn._callbacks.get(id, Callable())
	check(original.is_valid(), "the generate is in flight")
	# watch the dock's state right after each answer (answers may arrive several per frame)
	conn._callbacks[id] = func(answer: Dictionary) -> void:
		original.call(answer)
		if answer.get("type") == "progress" and answer.has("images"):
			if seen["result"]:
				seen["previews"] = -100  # a preview after the result
			seen["previews"] += 1
			seen["items"].append(dock._preview.item_count)
			for i in dock._preview.item_count:
				seen["selectable"] = seen["selectable"] or dock._preview.is_item_selectable(i)
		elif answer.get("type") == "result":
			seen["result"] = true
	check(await wait_until(func() -> bool: return dock._job.is_empty()), "flow generate finishes: " + dock._message.text)
	report["previews"] = seen["previews"]
	check(seen["previews"] >= 1 and seen["result"], "previews drawn before the result: %s" % str(seen))
	check(seen["items"].all(func(n) -> bool: return n == 2), "each preview shows 2 sprites: %s" % str(seen["items"]))
	check(not seen["selectable"], "previews are not selectable")
	check(dock._preview.item_count == 2 and dock._sprites.size() == 2 and dock._preview.is_item_selectable(0)
		and dock._preview.is_item_selectable(1), "the result replaces the previews: " + dock._message.text)
	dock._folder.text = "res://dock_out"
	dock._pattern.text = "{model}-{seed}"
	dock._save_preview(false)
	check(FileAccess.file_exists("res://dock_out/tflow-5.png"), "the result saves: " + dock._message.text)

	# a cancel (or an error) removes the preview
	dock._steps.value = 400
	dock._on_generate_pressed()
	await wait_until(func() -> bool: return dock._preview.item_count > dock._sprites.size() or dock._job.is_empty())
	report["preview_before_cancel"] = dock._preview.item_count > dock._sprites.size()
	dock._on_cancel_pressed()
	check(await wait_until(func() -> bool: return dock._job.is_empty()), "cancel ends the flow generate")
	check(dock._preview.item_count == dock._sprites.size() and (dock._message.text.begins_with("Cancelled")
		or dock._sprites.size() == 2), "no preview left after cancel: %d items, %s" % [dock._preview.item_count,
		dock._message.text])
	conn.close()
