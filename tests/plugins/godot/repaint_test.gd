extends SceneTree
## The dock's Repaint (inpaint) and Temperature against a real `pixelsprite serve` with the tiny pixel models (tpixel:
## 8x8, labels a/b; tpixel-u) and a tiny VAE (tiny), headless: the Repaint controls and the Temperature field show only
## for a model that lists them; a drag on the canvas sets the rectangle; Repaint sends `inpaint` with a mask of that
## rectangle, draws the step previews (not selectable) and then the repaintings in the preview grid; Save picked writes
## next to the source under a new name, never over an existing file.
##
##   godot --headless --path PROJECT -s res://tests/repaint_test.gd -- ws://127.0.0.1:PORT
##
## Expects res://repaint/src.png (8x8, written by the Python test) and res://repaint/big.png (32x32). Writes
## res://repaint_report.json and res://repaint/result-<i>.png (the preview's repaintings as the dock holds them), which
## the Python test compares with pixelsprite.api.inpaint; exit status 0 when every check passed.

const Connection := preload("res://addons/pixelsprite/connection.gd")
const Dock := preload("res://addons/pixelsprite/dock.gd")
const Protocol := preload("res://addons/pixelsprite/protocol.gd")

const TIMEOUT_MS := 60000
const SOURCE := "res://repaint/src.png"

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


func select_model(name: String) -> void:
	for i in dock._model.item_count:
		if dock._model.get_item_text(i) == name:
			dock._model.select(i)
	dock._on_model_changed()


## Mouse events go through the window's GUI input (Viewport.push_input), as the editor delivers them: they reach the
## canvas only where it is on screen and takes the mouse.
func at_pixel(pixel: Vector2i, within: Vector2) -> Vector2:
	return dock._repaint_canvas.get_global_transform() * ((Vector2(pixel) + within) * dock._repaint_zoom())


func mouse_button(pixel: Vector2i, pressed: bool) -> void:
	var e := InputEventMouseButton.new()
	e.button_index = MOUSE_BUTTON_LEFT
	e.pressed = pressed
	e.button_mask = MOUSE_BUTTON_MASK_LEFT if pressed else 0
	e.position = at_pixel(pixel, Vector2(0.4, 0.7))
	e.global_position = e.position
	root.push_input(e)
	await process_frame


func mouse_drag(pixel: Vector2i, held: bool = true) -> void:
	var e := InputEventMouseMotion.new()
	e.button_mask = MOUSE_BUTTON_MASK_LEFT if held else 0
	e.position = at_pixel(pixel, Vector2(0.5, 0.5))
	e.global_position = e.position
	root.push_input(e)
	await process_frame


func _run() -> void:
	var args := OS.get_cmdline_user_args()
	conn = Connection.new()
	conn.auto_reconnect = false
	dock = Dock.new()
	dock.setup(conn)
	root.size = Vector2i(360, 700)  # a dock-shaped window (headless starts at 64x64)
	root.add_child(dock)
	dock.set_anchors_and_offsets_preset(Control.PRESET_FULL_RECT)  # the whole window, as a dock fills its slot
	await process_frame
	var selection := {"paths": PackedStringArray()}
	dock.selection_provider = func() -> PackedStringArray: return selection["paths"]
	dock._url.text = args[0]
	dock._on_connect_pressed()
	check(await wait_until(func() -> bool: return dock._models.has("tpixel")), "models arrive: " + dock._status.text)

	# a VAE: no Repaint, no Temperature
	select_model("tiny")
	report["vae"] = {"repaint_visible": dock._repaint_box.is_visible_in_tree(),
		"temperature_visible": dock._temperature.visible}
	check(not dock._repaint_box.visible and not dock._repaint_box.is_visible_in_tree(), "no Repaint for a VAE")
	check(not dock._temperature.visible and not dock._temperature.get_meta("row_label").visible,
		"no Temperature row for a VAE")
	check(not dock.settings().has("temperature"), "a VAE's settings carry no temperature")
	check(not dock._interpolate_button.disabled, "a VAE interpolates")
	selection["paths"] = PackedStringArray([SOURCE])
	dock._seed.text = "7"
	dock._on_repaint_pressed()
	check(dock._message.text.contains("cannot repaint") and dock._job.is_empty(),
		"Repaint refused in words for a VAE: " + dock._message.text)

	# the pixel model: Repaint and Temperature show, with the model's defaults
	selection["paths"] = PackedStringArray()
	select_model("tpixel")
	var caps: Dictionary = dock._models["tpixel"]
	report["tpixel"] = {"repaint_visible": dock._repaint_box.is_visible_in_tree(),
		"temperature_visible": dock._temperature.visible}
	check(dock._repaint_box.is_visible_in_tree(), "Repaint shows for a model that inpaints")
	check(dock._temperature.visible and dock._temperature.get_meta("row_label").visible, "Temperature row shows")
	check(dock._temperature.value == float(caps["defaults"]["temperature"]), "temperature default from the model")
	check(dock._steps.value == int(caps["defaults"]["steps"]) and dock._steps.max_value == int(caps["steps"][1]),
		"steps: the model's default and range (%s, %s)" % [dock._steps.value, dock._steps.max_value])
	check(dock._interpolate_button.disabled and not dock._variations_button.disabled,
		"a pixel model does not interpolate, but makes variations")
	check(dock._repaint_note.text.contains("Select one texture"), "asks for a texture: " + dock._repaint_note.text)

	# a texture of another size is not shown, and Repaint says why
	selection["paths"] = PackedStringArray(["res://repaint/big.png"])
	dock._refresh_repaint_source()
	check(dock._repaint_canvas.texture == null and dock._repaint_note.text.contains("not a 8x8"),
		"wrong size on the canvas: " + dock._repaint_note.text)
	dock._on_repaint_pressed()
	check(dock._message.text.contains("is 32x32") and dock._job.is_empty(), "wrong size: " + dock._message.text)

	# the source on the canvas (nearest filtered, integer zoom); a drag sets the rectangle
	selection["paths"] = PackedStringArray([SOURCE])
	dock._refresh_repaint_source()
	var zoom: int = dock._repaint_zoom()
	check(dock._repaint_canvas.texture != null and dock._repaint_canvas.texture.get_size() == Vector2(8, 8)
		and dock._repaint_canvas.texture_filter == CanvasItem.TEXTURE_FILTER_NEAREST
		and dock._repaint_canvas.get_parent().custom_minimum_size == Vector2(8, 8) * zoom and zoom >= 2,
		"the selected texture on the canvas at %dx" % zoom)
	for i in 2:  # the layout takes the canvas's new size
		await process_frame
	dock.ensure_control_visible(dock._repaint_canvas)  # scroll the dock to it, as a user would
	for i in 2:
		await process_frame
	var canvas_rect: Rect2 = dock._repaint_canvas.get_global_rect()
	report["canvas_rect"] = [canvas_rect.position.x, canvas_rect.position.y, canvas_rect.size.x, canvas_rect.size.y]
	check(Rect2(Vector2.ZERO, Vector2(root.size)).encloses(canvas_rect), "the canvas is on screen: %s in %s" % [
		str(canvas_rect), str(root.size)])
	await mouse_drag(Vector2i(6, 4), false)
	await mouse_button(Vector2i(6, 4), true)
	await mouse_drag(Vector2i(3, 2))
	await mouse_drag(Vector2i(2, 1))
	await mouse_button(Vector2i(2, 1), false)
	await mouse_drag(Vector2i(0, 0), false)  # after the release: nothing changes
	var rect: Rect2i = dock._repaint_rect()
	report["rect"] = [rect.position.x, rect.position.y, rect.size.x, rect.size.y]
	check(rect == Rect2i(2, 1, 5, 4), "the drag set the rectangle: %s" % str(rect))
	dock._rect_w.value = 0
	dock._on_repaint_pressed()
	check(dock._message.text.contains("Set a rectangle") and dock._job.is_empty(), "empty rectangle refused")
	dock._rect_w.value = 5

	# the mask the dock sends: white = repaint, black = keep, all opaque
	var mask := Protocol.rect_mask(Vector2i(8, 8), rect)
	mask.save_png("res://repaint/mask.png")
	var clipped := Protocol.rect_mask(Vector2i(8, 8), Rect2i(6, 6, 5, 5))
	check(clipped.get_pixel(7, 7) == Color.WHITE and clipped.get_pixel(5, 5) == Color.BLACK,
		"a rectangle past the edge is clipped")

	# Repaint: previews while sampling, then the repaintings
	dock._count.value = 3
	dock._seed.text = "7"
	dock._steps.value = 16
	dock._temperature.value = 0.9
	var s: Dictionary = dock.settings()
	var sent: Dictionary = Protocol.inpaint("x", Image.load_from_file(ProjectSettings.globalize_path(SOURCE)), mask,
		3, s)
	report["request"] = {}
	for k in sent:
		if k not in ["image", "mask"]:
			report["request"][k] = sent[k]
	check(sent["op"] == "inpaint" and sent["temperature"] == 0.9 and sent["steps"] == 16 and sent["seed"] == 7
		and sent.get("preview") == true and not sent.has("candidates") and sent["mask"].has("png"),
		"the request: %s" % str(report["request"]))
	dock._on_repaint_pressed()
	check(dock._message.text.begins_with("Repainting 5x4 pixels at (2, 1)"), "repainting: " + dock._message.text)
	var id := str(dock._job.get("id", ""))
	var seen := {"previews": 0, "items": [], "selectable": false, "result": false}
	var original: Callable = conn._callbacks.get(id, Callable())
	check(original.is_valid(), "the inpaint is in flight")
	conn._callbacks[id] = func(answer: Dictionary) -> void:
		original.call(answer)
		if answer.get("type") == "progress" and answer.has("images"):
			seen["previews"] += 1
			seen["items"].append(dock._preview.item_count)
			for i in dock._preview.item_count:
				seen["selectable"] = seen["selectable"] or dock._preview.is_item_selectable(i)
		elif answer.get("type") == "result":
			seen["result"] = true
	check(await wait_until(func() -> bool: return dock._job.is_empty()), "repaint finishes: " + dock._message.text)
	report["previews"] = seen["previews"]
	report["message"] = dock._message.text
	check(seen["result"] and seen["previews"] >= 1, "previews before the result: %s" % str(seen))
	check(seen["items"].all(func(n) -> bool: return n == 3), "each preview shows 3 sprites: %s" % str(seen["items"]))
	check(not seen["selectable"], "previews are not selectable")
	check(dock._preview.item_count == 3 and dock._sprites.size() == 3, "3 repaintings in the preview")
	check(dock._message.text.contains("Made 3 repaintings"), "done: " + dock._message.text)
	report["seeds"] = []
	for i in dock._sprites.size():
		var entry: Dictionary = dock._sprites[i]
		report["seeds"].append(entry["seed"])
		entry["image"].save_png("res://repaint/result-%d.png" % i)
		check(entry["op"] == "inpaint" and entry["source"] == SOURCE, "entry %d: %s from %s" % [i, entry["op"],
			entry["source"]])

	# Save picked: next to the source, a new name, never over an existing file
	dock._preview.deselect_all()
	dock._on_repaint_save_pressed()
	check(dock._message.text.contains("Pick a repainting"), "nothing picked: " + dock._message.text)
	var taken := Image.create(8, 8, false, Image.FORMAT_RGBA8)
	taken.fill(Color(1, 0, 0, 1))
	taken.save_png("res://repaint/src-repaint-7.png")  # a file the dock must not overwrite
	dock._preview.select(1)
	dock._on_repaint_save_pressed()
	check(FileAccess.file_exists("res://repaint/src-repaint-8.png"), "saved next to the source: " + dock._message.text)
	dock._on_repaint_save_pressed()
	check(FileAccess.file_exists("res://repaint/src-repaint-8-2.png"), "saved again under a new name: "
		+ dock._message.text)
	dock._preview.select(0)
	dock._on_repaint_save_pressed()
	check(FileAccess.file_exists("res://repaint/src-repaint-7-2.png"), "an existing name is skipped: "
		+ dock._message.text)
	check(FileAccess.file_exists("res://repaint/src-repaint-8.png.import"), "pixel-art import settings written")

	# a cancel ends a repaint and leaves no preview behind
	dock._count.value = 64
	dock._steps.value = 64
	dock._rect_x.value = 0
	dock._rect_y.value = 0
	dock._rect_w.value = 8
	dock._rect_h.value = 8
	dock._on_repaint_pressed()
	await wait_until(func() -> bool: return dock._progress.value > 0.0 or dock._job.is_empty())
	dock._on_cancel_pressed()
	check(await wait_until(func() -> bool: return dock._job.is_empty()), "cancel ends the repaint")
	check(dock._preview.item_count == dock._sprites.size(), "no preview left after cancel: " + dock._message.text)
	report["cancel_message"] = dock._message.text
	conn.close()

	var f := FileAccess.open("res://repaint_report.json", FileAccess.WRITE)
	f.store_string(JSON.stringify(report, "  "))
	f.close()
	print("repaint_test: %d checks, %d failures" % [report["checks"].size(), report["failures"].size()])
	dock.queue_free()
	quit(1 if not report["failures"].is_empty() else 0)
