@tool
extends ScrollContainer
## The pixelsprite dock: server status, generation settings, a nearest-filtered preview grid (with a diffusion/flow
## model's step previews while it runs, when the server offers them), saving into res://,
## variations and interpolation of textures selected in the FileSystem dock, palette export, and the project's
## texture filter. Built in code; talks to the server only through connection.gd and protocol.gd, writes files only
## through sprite_files.gd.

const Protocol := preload("protocol.gd")
const Connection := preload("connection.gd")
const SpriteFiles := preload("sprite_files.gd")

const FILTER_SETTING := "rendering/textures/canvas_textures/default_texture_filter"
const IMAGE_EXTENSIONS := ["png", "webp", "bmp", "tga", "jpg", "jpeg"]

var connection: Connection
## Returns the res:// paths selected in the FileSystem dock; replaceable where there is no editor (tests).
var selection_provider := Callable()

var _models := {}  # name -> the `models` entry
var _sprites := []  # preview entries: {"image": Image, "seed": int or null, "model": String, "op": String}
# items of _preview past _sprites.size() are a running generate's previews: dimmed, not selectable, never saved
var _job := {}  # the running operation: {"kind", "ids", "chunks", "done", "total", ...}

# widgets
var _status: Label
var _url: LineEdit
var _connect: Button
var _token: LineEdit
var _model: OptionButton
var _size: Label
var _label: OptionButton
var _count: SpinBox
var _seed: LineEdit
var _steps: SpinBox
var _solver: OptionButton
var _guidance: SpinBox
var _candidates: SpinBox
var _palette: OptionButton
var _palette_custom: LineEdit
var _dither: OptionButton
var _despeckle: CheckBox
var _outline: OptionButton
var _outline_color: ColorPickerButton
var _max_colors: SpinBox
var _more: Button  # folds the settings most runs leave at their defaults
var _more_box: Control
var _generate: Button
var _cancel: Button
var _progress: ProgressBar
var _message: Label
var _preview: ItemList
var _zoom: HSlider
var _folder: LineEdit
var _pattern: LineEdit
var _strength: SpinBox
var _frames: SpinBox
var _method: OptionButton
var _fps: SpinBox
var _pal_colors: SpinBox
var _pal_name: LineEdit
var _filter_button: Button
var _filter_note: Label
var _confirm: ConfirmationDialog
var _folder_dialog: ConfirmationDialog  # EditorFileDialog in the editor
var _pending_save := {}  # what the overwrite dialog is asking about


func setup(conn: Connection) -> void:
	connection = conn
	connection.state_changed.connect(_on_state_changed)
	connection.server_ready.connect(_on_server_ready)


func _ready() -> void:
	name = "pixelsprite"
	custom_minimum_size = Vector2(240, 300)
	horizontal_scroll_mode = ScrollContainer.SCROLL_MODE_DISABLED
	var box := VBoxContainer.new()
	box.size_flags_horizontal = Control.SIZE_EXPAND_FILL
	add_child(box)
	_build_server(box)
	_build_settings(box)
	_build_generate(box)
	_build_preview(box)
	_build_save(box)
	_build_textures(box)
	_build_palette(box)
	_build_pixel_art(box)
	_confirm = ConfirmationDialog.new()
	_confirm.title = "pixelsprite"
	_confirm.ok_button_text = "Overwrite"
	_confirm.add_button("Skip existing", true, "skip")
	_confirm.confirmed.connect(_on_overwrite_confirmed)
	_confirm.custom_action.connect(_on_overwrite_custom)
	add_child(_confirm)
	# EditorFileDialog exists only in the editor; FileDialog has the same modes where the dock runs outside it (tests)
	_folder_dialog = EditorFileDialog.new() if Engine.is_editor_hint() else FileDialog.new()
	_folder_dialog.file_mode = FileDialog.FILE_MODE_OPEN_DIR
	_folder_dialog.access = FileDialog.ACCESS_RESOURCES
	_folder_dialog.title = "Folder for sprites"
	_folder_dialog.dir_selected.connect(func(dir: String) -> void: _folder.text = dir)
	add_child(_folder_dialog)
	_refresh_filter_note()
	_set_busy(false)
	if connection != null:
		_on_state_changed(connection.state, connection.status_text)


# ----------------------------------------------------------------------------------------------------- layout
func _section(parent: Control, title: String) -> VBoxContainer:
	var label := Label.new()
	label.text = title
	label.add_theme_color_override("font_color", Color(0.65, 0.8, 1.0))
	parent.add_child(label)
	var box := VBoxContainer.new()
	parent.add_child(box)
	return box


func _grid(parent: Control) -> GridContainer:
	var grid := GridContainer.new()
	grid.columns = 2
	grid.size_flags_horizontal = Control.SIZE_EXPAND_FILL
	parent.add_child(grid)
	return grid


func _row(grid: GridContainer, text: String, control: Control, tooltip: String = "") -> Control:
	var label := Label.new()
	label.text = text
	grid.add_child(label)
	control.size_flags_horizontal = Control.SIZE_EXPAND_FILL
	control.tooltip_text = tooltip
	label.tooltip_text = tooltip
	grid.add_child(control)
	return control


func _spin(lo: float, hi: float, value: float, step: float = 1.0) -> SpinBox:
	var s := SpinBox.new()
	s.min_value = lo
	s.max_value = hi
	s.step = step
	s.value = value
	return s


func _button(text: String, on_pressed: Callable, tooltip: String = "") -> Button:
	var b := Button.new()
	b.text = text
	b.tooltip_text = tooltip
	b.pressed.connect(on_pressed)
	return b


func _build_server(box: VBoxContainer) -> void:
	var sec := _section(box, "Server")
	_status = Label.new()
	_status.autowrap_mode = TextServer.AUTOWRAP_WORD_SMART
	_status.text = "Not connected. Start the server with `pixelsprite serve`."
	sec.add_child(_status)
	var row := HBoxContainer.new()
	sec.add_child(row)
	_url = LineEdit.new()
	_url.text = _load_setting("url", Protocol.DEFAULT_URL)
	_url.size_flags_horizontal = Control.SIZE_EXPAND_FILL
	_url.tooltip_text = "The address `pixelsprite serve` prints (default ws://127.0.0.1:8737)."
	row.add_child(_url)
	_connect = _button("Connect", _on_connect_pressed)
	row.add_child(_connect)
	_token = LineEdit.new()
	_token.secret = true
	_token.placeholder_text = "token (optional)"
	_token.tooltip_text = "The server's --token, sent as Authorization: Bearer. Not stored."
	sec.add_child(_token)


func _build_settings(box: VBoxContainer) -> void:
	var sec := _section(box, "Sprites")
	var grid := _grid(sec)
	_model = _row(grid, "Model", OptionButton.new(), "The server's models (from `models`).")
	_model.item_selected.connect(func(_i: int) -> void: _on_model_changed())
	_size = _row(grid, "Size", Label.new())
	_size.text = "-"
	_label = _row(grid, "Label", OptionButton.new(), "Class label (conditional models only).")
	_label.disabled = true  # until a conditional model is chosen
	_count = _row(grid, "Count", _spin(1, 1024, 16), "Sprites to make (1..1024).")
	_seed = _row(grid, "Seed", LineEdit.new(), "Base seed; sprite i gets seed + i. Empty: random.")
	_seed.placeholder_text = "random"
	# Sampler, candidates, palette and clean-up: folded by default, so that Generate and the preview sit near the top
	# of the dock (the editor's dock is short) and the sprites show without scrolling.
	_more = Button.new()
	_more.text = "More settings"
	_more.toggle_mode = true
	_more.flat = true
	_more.alignment = HORIZONTAL_ALIGNMENT_LEFT
	_more.tooltip_text = "Steps, solver, guidance, candidates, palette, dither, clean-up and colour limit."
	sec.add_child(_more)
	var more_grid := _grid(sec)
	_more_box = more_grid
	_more.toggled.connect(_on_more_toggled)
	grid = more_grid
	_steps = _row(grid, "Steps", _spin(1, 1000, 16), "Sampler steps (diffusion and flow models).")
	_solver = _row(grid, "Solver", OptionButton.new(), "Sampler (diffusion and flow models list theirs).")
	_guidance = _row(grid, "Guidance", _spin(0, 20, 1.0, 0.1),
		"Classifier-free guidance (conditional models): 0 unconditional, 1 conditional, >1 stronger.")
	_candidates = _row(grid, "Candidates", _spin(1, 64, 1),
		"Sample this many per sprite and keep the best by the server's teacher (sent only when > 1).")
	_palette = _row(grid, "Palette", OptionButton.new(), "Constrain colours to a palette.")
	_palette.add_item("(none)")
	for p in Protocol.BUILTIN_PALETTES:
		_palette.add_item(p)
	_palette.add_item("custom colours...")
	_palette_custom = LineEdit.new()
	_palette_custom.placeholder_text = "#1a1c2c,#5d275d,..."
	var spacer := Control.new()  # the label cell of the custom-colours row; hidden with it so the grid stays aligned
	for c in [spacer, _palette_custom]:
		c.visible = false
		grid.add_child(c)
	_palette.item_selected.connect(func(_i: int) -> void:
		spacer.visible = _palette_is_custom()
		_palette_custom.visible = _palette_is_custom())
	_dither = _row(grid, "Dither", OptionButton.new(), "Ordered dithering between palette colours.")
	for d in Protocol.DITHERS:
		_dither.add_item(d)
	_despeckle = _row(grid, "Clean-up", CheckBox.new(), "Every lone pixel takes its most common neighbour colour.")
	_despeckle.text = "despeckle"
	var outline_row := HBoxContainer.new()
	_outline = OptionButton.new()
	for o in ["no outline", "darkest", "colour"]:
		_outline.add_item(o)
	_outline.size_flags_horizontal = Control.SIZE_EXPAND_FILL
	_outline_color = ColorPickerButton.new()
	_outline_color.color = Color.BLACK
	_outline_color.edit_alpha = false
	_outline_color.custom_minimum_size = Vector2(28, 0)
	outline_row.add_child(_outline)
	outline_row.add_child(_outline_color)
	_row(grid, "Outline", outline_row, "A 1-pixel outline around the sprite.")
	_max_colors = _row(grid, "Max colours", _spin(-1, 256, -1),
		"Colours per sprite: -1 the model's default, 0 no limit.")
	_more.button_pressed = _load_setting("more_settings", "false") == "true"
	_on_more_toggled(_more.button_pressed)


func _on_more_toggled(open: bool) -> void:
	_more_box.visible = open
	_more.text = ("Fewer settings" if open else "More settings (steps, palette, clean-up...)")
	_update_more_icon()
	_save_setting("more_settings", "true" if open else "false")


func _update_more_icon() -> void:
	if _more == null:
		return
	var icon := &"arrow" if _more.button_pressed else &"arrow_collapsed"  # the Tree's fold arrows, down / right
	_more.icon = get_theme_icon(icon, &"Tree") if has_theme_icon(icon, &"Tree") else null


func _notification(what: int) -> void:
	if what == NOTIFICATION_THEME_CHANGED:
		_update_more_icon()


func _build_generate(box: VBoxContainer) -> void:
	var row := HBoxContainer.new()
	box.add_child(row)
	_generate = _button("Generate", _on_generate_pressed)
	_generate.size_flags_horizontal = Control.SIZE_EXPAND_FILL
	row.add_child(_generate)
	_cancel = _button("Cancel", _on_cancel_pressed)
	row.add_child(_cancel)
	_progress = ProgressBar.new()
	_progress.max_value = 1.0
	_progress.step = 0.0
	box.add_child(_progress)
	_message = Label.new()
	_message.autowrap_mode = TextServer.AUTOWRAP_WORD_SMART
	box.add_child(_message)


func _build_preview(box: VBoxContainer) -> void:
	var row := HBoxContainer.new()
	box.add_child(row)
	var label := Label.new()
	label.text = "Zoom"
	row.add_child(label)
	_zoom = HSlider.new()
	_zoom.min_value = 1
	_zoom.max_value = 8
	_zoom.value = 4
	_zoom.size_flags_horizontal = Control.SIZE_EXPAND_FILL
	_zoom.value_changed.connect(func(_v: float) -> void: _update_icon_size())
	row.add_child(_zoom)
	row.add_child(_button("Clear", _clear_preview))
	_preview = ItemList.new()
	# Pixel art is never smoothed in the preview: nearest filtering, integer zoom.
	_preview.texture_filter = CanvasItem.TEXTURE_FILTER_NEAREST
	_preview.icon_mode = ItemList.ICON_MODE_TOP
	_preview.max_columns = 0
	_preview.same_column_width = true
	_preview.select_mode = ItemList.SELECT_MULTI
	_preview.custom_minimum_size = Vector2(0, 220)
	_preview.size_flags_vertical = Control.SIZE_EXPAND_FILL
	box.add_child(_preview)


func _build_save(box: VBoxContainer) -> void:
	var sec := _section(box, "Save")
	var grid := _grid(sec)
	var folder_row := HBoxContainer.new()
	_folder = LineEdit.new()
	_folder.text = _load_setting("folder", "res://sprites")
	_folder.size_flags_horizontal = Control.SIZE_EXPAND_FILL
	folder_row.add_child(_folder)
	folder_row.add_child(_button("...", func() -> void: _folder_dialog.popup_centered_ratio(0.6)))
	_row(grid, "Folder", folder_row, "A folder in res:// (created if missing).")
	_pattern = _row(grid, "Names", LineEdit.new(),
		"File name pattern: {model} {seed} {index} {op} {name}; .png is added.")
	_pattern.text = _load_setting("pattern", SpriteFiles.DEFAULT_PATTERN)
	var row := HBoxContainer.new()
	sec.add_child(row)
	row.add_child(_button("Save selected", func() -> void: _save_preview(true)))
	row.add_child(_button("Save all", func() -> void: _save_preview(false)))


func _build_textures(box: VBoxContainer) -> void:
	var sec := _section(box, "From textures in the FileSystem dock")
	var grid := _grid(sec)
	_strength = _row(grid, "Strength", _spin(0.0, 2.0, 0.5, 0.05), "How far variations stray (0..2).")
	_frames = _row(grid, "Frames", _spin(2, 64, 8), "Interpolation frames, both ends included.")
	_method = _row(grid, "Method", OptionButton.new())
	_method.add_item("slerp")
	_method.add_item("lerp")
	_fps = _row(grid, "FPS", _spin(1, 60, 8), "Speed of the SpriteFrames animation.")
	sec.add_child(_button("Variations of selected texture", _on_variations_pressed,
		"Count variations of the texture selected in the FileSystem dock (it must have the model's size)."))
	sec.add_child(_button("Interpolate two selected textures", _on_interpolate_pressed,
		"Frames from one selected texture to the other, saved as PNGs plus a SpriteFrames resource."))


func _build_palette(box: VBoxContainer) -> void:
	var sec := _section(box, "Palette")
	var grid := _grid(sec)
	_pal_colors = _row(grid, "Colours", _spin(1, 256, 16))
	_pal_name = _row(grid, "Name", LineEdit.new())
	_pal_name.text = "pixelsprite-palette"
	sec.add_child(_button("Export palette", _on_palette_pressed,
		"Propose a palette from the selected previews (or from model samples if none is selected) and save it as .gpl"
		+ " and as a ColorPalette .tres (in Godot versions that have it)."))


func _build_pixel_art(box: VBoxContainer) -> void:
	var sec := _section(box, "Pixel art in this project")
	_filter_note = Label.new()
	_filter_note.autowrap_mode = TextServer.AUTOWRAP_WORD_SMART
	sec.add_child(_filter_note)
	_filter_button = _button("Use Nearest filtering for 2D", _on_filter_pressed)
	sec.add_child(_filter_button)


# ----------------------------------------------------------------------------------------------- connection
func _on_connect_pressed() -> void:
	if connection.state == Connection.State.DISCONNECTED:
		_save_setting("url", _url.text.strip_edges())
		connection.token = _token.text.strip_edges()
		connection.open(_url.text.strip_edges())
	else:
		connection.close()


func _on_state_changed(state: int, text: String) -> void:
	if _status == null:
		return
	_status.text = text
	_connect.text = "Connect" if state == Connection.State.DISCONNECTED else "Disconnect"
	if state != Connection.State.READY and not _job.is_empty():
		_finish_job("")
	_set_busy(not _job.is_empty())


func _on_server_ready(hello: Dictionary) -> void:
	var limits: Dictionary = hello.get("limits", {})
	_count.max_value = int(limits.get("max_count", 1024))
	var steps: Array = limits.get("steps", [1, 1000])
	_steps.min_value = int(steps[0])
	_steps.max_value = int(steps[1])
	_strength.max_value = float(limits.get("max_strength", 2.0))
	connection.request(Protocol.models("models"), _on_models)


func _on_models(answer: Dictionary) -> void:
	if answer.get("type") != "result":
		_show(Protocol.error_text(answer))
		return
	var previous := _model.get_item_text(_model.selected) if _model.selected >= 0 else ""
	_models.clear()
	_model.clear()
	var select := 0
	for m in answer.get("models", []):
		_models[str(m["name"])] = m
		_model.add_item(str(m["name"]))
		if str(m["name"]) == previous or (previous == "" and str(m["name"]) == str(answer.get("default", ""))):
			select = _model.item_count - 1
	if _model.item_count > 0:
		_model.select(select)
	for p in answer.get("problems", []):
		push_warning("pixelsprite: " + str(p))
	_on_model_changed()


func _on_model_changed() -> void:
	var m := _current_model()
	var size: Array = m.get("size", [0, 0])
	_size.text = "%d x %d  (%s)" % [int(size[0]), int(size[1]), str(m.get("family", "?"))] if not m.is_empty() else "-"
	var params: Array = m.get("parameters", [])
	_label.clear()
	_label.add_item("(none)")
	for l in m.get("labels", []):
		_label.add_item(str(l))
	_label.disabled = not params.has("label")
	_steps.editable = params.has("steps")
	if typeof(m.get("steps")) in [TYPE_INT, TYPE_FLOAT]:
		_steps.value = int(m["steps"])
	_solver.clear()
	_solver.add_item("(default)")
	for solver in m.get("solvers", []):
		_solver.add_item(str(solver))
	_solver.disabled = not params.has("solver")
	_guidance.editable = params.has("guidance")
	var defaults: Dictionary = m.get("defaults", {})
	_max_colors.tooltip_text = "Colours per sprite: -1 the model's default (%s), 0 no limit." % str(
		defaults.get("max_colors", "none"))
	_update_icon_size()


func _current_model() -> Dictionary:
	if _model.selected < 0:
		return {}
	return _models.get(_model.get_item_text(_model.selected), {})


# --------------------------------------------------------------------------------------------------- settings
func _palette_is_custom() -> bool:
	return _palette.selected == _palette.item_count - 1


func settings() -> Dictionary:
	var m := _current_model()
	var params: Array = m.get("parameters", [])
	var s := {"model": str(m.get("name", "")), "image_format": "png"}
	var seed_text := _seed.text.strip_edges()
	if seed_text.is_valid_int():
		s["seed"] = seed_text.to_int()
	if params.has("label") and _label.selected > 0:
		s["label"] = _label.get_item_text(_label.selected)
	if params.has("steps"):
		s["steps"] = int(_steps.value)
	if params.has("solver") and _solver.selected > 0:
		s["solver"] = _solver.get_item_text(_solver.selected)
	if params.has("guidance"):
		s["guidance"] = _guidance.value
	s["candidates"] = int(_candidates.value)
	if _palette_is_custom():
		s["palette"] = _palette_custom.text.strip_edges()
	elif _palette.selected > 0:
		s["palette"] = _palette.get_item_text(_palette.selected)
	s["dither"] = _dither.get_item_text(_dither.selected)
	s["despeckle"] = _despeckle.button_pressed
	if _outline.selected == 1:
		s["outline"] = "darkest"
	elif _outline.selected == 2:
		s["outline"] = "#" + _outline_color.color.to_html(false)
	if _max_colors.value >= 0:
		s["max_colors"] = int(_max_colors.value)
	if connection != null and Protocol.has_feature(connection.hello_answer, "preview"):
		s["preview"] = true  # diffusion/flow progress then carries the sprites so far (interpolate drops it)
	return s


func _model_size() -> Vector2i:
	var size: Array = _current_model().get("size", [16, 16])
	return Vector2i(int(size[0]), int(size[1]))


# ------------------------------------------------------------------------------------------------- generate
func _on_generate_pressed() -> void:
	if not _ready_to_send():
		return
	var s := settings()
	if not s.has("seed"):
		# chosen here so that a generate split into several requests stays one run of consecutive seeds
		s["seed"] = randi() % 1000000000
	var total := int(_count.value)
	var size := _model_size()
	var per := Protocol.sprites_per_request(size.x, size.y, int(_count.max_value))
	var chunks := []
	var start := 0
	while start < total:
		var n: int = min(per, total - start)
		var cs := s.duplicate()
		cs["seed"] = int(s["seed"]) + start
		chunks.append(Protocol.generate("", n, cs))
		start += n
	_clear_preview()
	_start_job({"kind": "generate", "chunks": chunks, "total": total, "done": 0, "seed": s["seed"]})
	_show("Generating %d sprites from seed %d..." % [total, int(s["seed"])])
	_send_next_chunk()


func _send_next_chunk() -> void:
	if _job.is_empty():
		return
	if _job["chunks"].is_empty():
		_finish_job("Made %d sprites (seeds %d..%d)." % [_job["done"], _job["seed"], _job["seed"] + _job["done"] - 1])
		return
	var msg: Dictionary = _job["chunks"].pop_front()
	_job["chunk_base"] = _job["done"]
	_job["id"] = connection.request(msg, _on_sprite_answer)


func _on_sprite_answer(answer: Dictionary) -> void:
	if _job.is_empty() or str(answer.get("id")) != str(_job.get("id", "")):
		return
	match str(answer.get("type")):
		"progress":
			if str(answer.get("unit")) == "sprites":
				_set_progress(int(_job["chunk_base"]) + int(answer.get("done", 0)), int(_job["total"]))
			else:
				_progress.value = float(answer.get("done", 0)) / max(1.0, float(answer.get("total", 1)))
			if answer.has("images"):
				_show_step_preview(answer)
		"error":
			_finish_job(Protocol.error_text(answer))
		"result":
			_drop_step_preview()
			var images := Protocol.result_images(answer)
			var seeds := Protocol.result_seeds(answer)
			for i in images.size():
				_add_sprite(images[i], seeds[i] if i < seeds.size() else null, str(answer.get("model", "")),
					str(answer.get("op", _job["kind"])))
			_job["done"] = int(_job["done"]) + images.size()
			_set_progress(int(_job["done"]), int(_job["total"]))
			if _job["kind"] == "generate":
				_send_next_chunk()
			else:
				var after: Callable = _job.get("after", Callable())
				var done_text := "Made %d sprites." % images.size()
				_finish_job(done_text)
				if after.is_valid():
					after.call(images, answer)


func _on_cancel_pressed() -> void:
	if _job.is_empty():
		return
	_job["chunks"] = []
	connection.cancel(str(_job.get("id", "")))
	_show("Cancelling...")


func _start_job(job: Dictionary) -> void:
	_job = job
	_progress.value = 0.0
	_set_busy(true)


func _finish_job(text: String) -> void:
	_job = {}
	_drop_step_preview()
	_set_busy(false)
	if text != "":
		_show(text)
	_reveal_preview.call_deferred()


## Scrolls the dock so that the preview grid is in view (the sprites just made are what the user wants to see).
func _reveal_preview() -> void:
	if _preview != null and _preview.is_inside_tree() and _preview.item_count > 0:
		ensure_control_visible(_preview)


func _set_busy(busy: bool) -> void:
	if _generate == null:
		return
	var ready := connection != null and connection.is_ready()
	_generate.disabled = busy or not ready
	_cancel.disabled = not busy


func _set_progress(done: int, total: int) -> void:
	_progress.value = float(done) / max(1.0, float(total))


func _ready_to_send() -> bool:
	if connection == null or not connection.is_ready():
		_show("Not connected: start `pixelsprite serve` and press Connect.")
		return false
	if not _job.is_empty():
		_show("Busy: wait for the current request or press Cancel.")
		return false
	return true


func _show(text: String) -> void:
	_message.text = text


# --------------------------------------------------------------------------------------------------- preview
func _add_sprite(image: Image, seed, model: String, op: String) -> void:
	if image == null:
		_show("The server sent an image that could not be decoded.")
		return
	var index := _sprites.size()
	_sprites.append({"image": image, "seed": seed, "model": model, "op": op, "index": index})
	var item := _preview.add_icon_item(ImageTexture.create_from_image(image))
	_preview.set_item_tooltip(item, "seed %s" % str(seed) if seed != null else "frame %d" % index)


## Draws a `progress` answer's preview images after the finished sprites, replacing the previous preview: dimmed and
## not selectable, so neither Save nor Export palette can pick them; the result (or an error/cancel) removes them.
func _show_step_preview(answer: Dictionary) -> void:
	_drop_step_preview()
	var step := "preview at step %d of %d: not final" % [int(answer.get("done", 0)), int(answer.get("total", 0))]
	for image in Protocol.result_images(answer):
		if image == null:
			continue
		var item := _preview.add_icon_item(ImageTexture.create_from_image(image), false)
		_preview.set_item_icon_modulate(item, Color(1, 1, 1, 0.55))
		_preview.set_item_tooltip(item, step)


func _drop_step_preview() -> void:
	while _preview.item_count > _sprites.size():
		_preview.remove_item(_preview.item_count - 1)


func _clear_preview() -> void:
	_sprites.clear()
	_preview.clear()


func _update_icon_size() -> void:
	var size := _model_size()
	_preview.fixed_icon_size = size * int(_zoom.value)


# ------------------------------------------------------------------------------------------------------ save
func _save_preview(selected_only: bool) -> void:
	var indices := Array(_preview.get_selected_items()) if selected_only else range(_sprites.size())
	if indices.is_empty():
		_show("Select sprites in the preview first (Shift/Ctrl-click for several)." if selected_only
			else "Nothing to save: generate first.")
		return
	var images := []
	var meta := []
	for i in indices:
		images.append(_sprites[i]["image"])
		meta.append({"seed": _sprites[i]["seed"], "index": i})
	var common := {"model": _sprites[indices[0]]["model"], "op": _sprites[indices[0]]["op"], "name": "sprite"}
	_save_setting("pattern", _pattern.text)
	_save_images(images, meta, common, _pattern.text, Callable())


## Saves sprites into the chosen folder, asking first if files would be overwritten; `after(saved_paths)` runs
## once the files are written (before the filesystem scan).
func _save_images(images: Array, meta: Array, common: Dictionary, pattern: String, after: Callable,
		subfolder: String = "") -> void:
	var folder := _folder.text.strip_edges().trim_suffix("/")
	if not SpriteFiles.is_res_folder(folder):
		_show("The folder must be inside the project (start with res://).")
		return
	_save_setting("folder", folder)
	if subfolder != "":
		folder = folder.path_join(subfolder)
	var paths := SpriteFiles.plan_paths(folder, pattern, meta, common)
	_pending_save = {"images": images, "paths": paths, "after": after}
	var clash := SpriteFiles.existing(paths)
	if clash.is_empty():
		_write_pending(false)
		return
	var names := PackedStringArray()
	for p in clash.slice(0, 5):
		names.append(p.get_file())
	_confirm.dialog_text = "%d of %d files already exist in %s:\n%s%s\n\nOverwrite them?" % [
		clash.size(), paths.size(), folder, "\n".join(names), "\n..." if clash.size() > 5 else ""]
	_confirm.popup_centered()


func _on_overwrite_confirmed() -> void:
	_write_pending(true)


func _on_overwrite_custom(action: StringName) -> void:
	_confirm.hide()
	if action == &"skip":
		_write_pending(false)


func _write_pending(overwrite: bool) -> void:
	if _pending_save.is_empty():
		return
	var job := _pending_save
	_pending_save = {}
	var out := SpriteFiles.save_pngs(job["images"], job["paths"], overwrite)
	var paths: PackedStringArray = job["paths"]
	var text := "Saved %d file(s) to %s." % [out["saved"].size(), paths[0].get_base_dir() if paths.size() else ""]
	if not out["skipped"].is_empty():
		text += " Kept %d existing file(s)." % out["skipped"].size()
	if not out["errors"].is_empty():
		text += " Problems: " + "; ".join(PackedStringArray(out["errors"]))
	var after: Callable = job["after"]
	if after.is_valid():
		var extra = after.call(job["paths"])
		if typeof(extra) == TYPE_STRING and extra != "":
			text += " " + extra
	_show(text)
	_rescan()


func _rescan() -> void:
	if Engine.is_editor_hint():
		EditorInterface.get_resource_filesystem().scan()


# ------------------------------------------------------------------------------- variations / interpolation
func _selected_texture_paths() -> PackedStringArray:
	var paths := PackedStringArray()
	var selected := PackedStringArray()
	if selection_provider.is_valid():
		selected = selection_provider.call()
	elif not Engine.is_editor_hint():
		return paths
	elif EditorInterface.has_method("get_selected_paths"):  # Godot 4.3+
		selected = EditorInterface.call("get_selected_paths")
	else:
		selected = PackedStringArray([EditorInterface.get_current_path()])
	for p in selected:
		if IMAGE_EXTENSIONS.has(p.get_extension().to_lower()):
			paths.append(p)
	return paths


func _load_source_image(path: String) -> Image:
	# the source file, not the imported texture: the exact pixels
	var image := Image.load_from_file(ProjectSettings.globalize_path(path))
	if image == null:
		return null
	if image.get_format() != Image.FORMAT_RGBA8:
		image.convert(Image.FORMAT_RGBA8)
	var size := _model_size()
	if image.get_width() != size.x or image.get_height() != size.y:
		_show("%s is %dx%d, but %s makes %dx%d sprites: pick a texture of the model's size." % [
			path.get_file(), image.get_width(), image.get_height(), _model.get_item_text(_model.selected), size.x,
			size.y])
		return null
	return image


func _on_variations_pressed() -> void:
	if not _ready_to_send():
		return
	var paths := _selected_texture_paths()
	if paths.size() != 1:
		_show("Select one texture (PNG) in the FileSystem dock first.")
		return
	var image := _load_source_image(paths[0])
	if image == null:
		return
	var s := settings()
	_clear_preview()
	_start_job({"kind": "variations", "total": int(_count.value), "done": 0, "chunk_base": 0})
	_job["id"] = connection.request(
		Protocol.variations("", image, int(_count.value), _strength.value, s), _on_sprite_answer)
	_show("Making %d variations of %s..." % [int(_count.value), paths[0].get_file()])


func _on_interpolate_pressed() -> void:
	if not _ready_to_send():
		return
	var paths := _selected_texture_paths()
	if paths.size() != 2:
		_show("Select exactly two textures (PNG) in the FileSystem dock (Ctrl-click the second).")
		return
	var a := _load_source_image(paths[0])
	var b := _load_source_image(paths[1])
	if a == null or b == null:
		return
	var anim := "%s-to-%s" % [paths[0].get_file().get_basename(), paths[1].get_file().get_basename()]
	var frames := int(_frames.value)
	_clear_preview()
	_start_job({"kind": "interpolate", "total": frames, "done": 0, "chunk_base": 0,
		"after": _save_interpolation.bind(anim)})
	_job["id"] = connection.request(Protocol.interpolate(
		"", a, b, frames, _method.get_item_text(_method.selected), settings()), _on_sprite_answer)
	_show("Interpolating %s..." % anim)


func _save_interpolation(images: Array, answer: Dictionary, anim: String) -> void:
	var meta := []
	for i in images.size():
		meta.append({"seed": null, "index": i})
	var common := {"model": str(answer.get("model", "")), "op": "interpolate", "name": anim}
	var fps := _fps.value
	var tres := _folder.text.strip_edges().trim_suffix("/").path_join(anim + ".tres")
	var write_frames := func(paths: PackedStringArray) -> String:
		var err := SpriteFiles.save_sprite_frames(tres, Array(paths), fps)
		if err != OK:
			return "SpriteFrames not written: %s." % error_string(err)
		return "SpriteFrames: %s." % tres
	_save_images(images, meta, common, "{name}-{index}", write_frames, anim)


# --------------------------------------------------------------------------------------------------- palette
func _on_palette_pressed() -> void:
	if not _ready_to_send():
		return
	var sprites := []
	for i in _preview.get_selected_items():
		sprites.append(_sprites[i]["image"])
	var s := settings()
	s["palette_name"] = _pal_name.text.strip_edges()
	_start_job({"kind": "palette"})
	_job["id"] = connection.request(Protocol.palette("", int(_pal_colors.value), "gpl", s, sprites), _on_palette_answer)
	_show("Proposing a %d-colour palette from %s..." % [int(_pal_colors.value),
		"%d selected sprites" % sprites.size() if not sprites.is_empty() else "model samples"])


func _on_palette_answer(answer: Dictionary) -> void:
	if str(answer.get("type")) == "progress":
		return
	_finish_job("")
	if answer.get("type") == "error":
		_show(Protocol.error_text(answer))
		return
	var folder := _folder.text.strip_edges().trim_suffix("/")
	if not SpriteFiles.is_res_folder(folder):
		_show("The folder must be inside the project (start with res://).")
		return
	var base := folder.path_join(_pal_name.text.strip_edges().validate_filename())
	var gpl := base + ".gpl"
	var tres := base + ".tres"
	var colors: Array = answer.get("colors", [])
	var write := func() -> void:
		var text := "Palette of %d colours: " % colors.size()
		var err := SpriteFiles.save_bytes(gpl, Marshalls.base64_to_raw(str(answer.get("file", ""))))
		text += gpl if err == OK else "%s not written (%s)" % [gpl, error_string(err)]
		if SpriteFiles.has_color_palette():
			err = SpriteFiles.save_color_palette(tres, colors)
			text += ", " + (tres if err == OK else "%s not written (%s)" % [tres, error_string(err)])
		else:
			text += " (this Godot version has no ColorPalette resource; newer 4.x versions do)"
		_show(text + ".")
		_rescan()
	if FileAccess.file_exists(gpl) or FileAccess.file_exists(tres):
		var ask := ConfirmationDialog.new()
		ask.dialog_text = "%s already exists. Overwrite it?" % base.get_file()
		ask.ok_button_text = "Overwrite"
		ask.confirmed.connect(write)
		ask.visibility_changed.connect(func() -> void:
			if not ask.visible:
				ask.queue_free())
		add_child(ask)
		ask.popup_centered()
	else:
		write.call()


# ------------------------------------------------------------------------------------------- texture filter
func _project_filter_is_nearest() -> bool:
	return int(ProjectSettings.get_setting(FILTER_SETTING, 1)) == 0


func _refresh_filter_note() -> void:
	if _project_filter_is_nearest():
		_filter_note.text = "2D textures in this project are drawn with Nearest filtering: sprites stay crisp."
		_filter_button.disabled = true
	else:
		_filter_note.text = ("This project draws 2D textures with Linear filtering, which blurs scaled-up pixel art. "
			+ "Nearest filtering changes Project Settings > Rendering > Textures > Canvas Textures > Default Texture "
			+ "Filter: every 2D node (Sprite2D, AnimatedSprite2D, TextureRect, ...) whose own Texture Filter is "
			+ "'Inherit' samples textures without smoothing. Nodes can still choose Linear themselves.")
		_filter_button.disabled = false


func _on_filter_pressed() -> void:
	var ask := ConfirmationDialog.new()
	ask.dialog_text = ("Set the project's Default Texture Filter (%s) to Nearest?\n\n"
		+ "All 2D nodes that inherit their filter will draw textures without smoothing: pixel art stays sharp at "
		+ "any zoom, while smooth artwork and downscaled images may look jagged. This writes project.godot.") % (
		FILTER_SETTING)
	ask.ok_button_text = "Use Nearest"
	ask.confirmed.connect(func() -> void:
		ProjectSettings.set_setting(FILTER_SETTING, 0)
		var err := ProjectSettings.save()
		_show("Default texture filter set to Nearest." if err == OK
			else "Could not save project.godot: %s" % error_string(err))
		_refresh_filter_note())
	ask.visibility_changed.connect(func() -> void:
		if not ask.visible:
			ask.queue_free())
	add_child(ask)
	ask.popup_centered()


# -------------------------------------------------------------------------------------- remembered settings
func _load_setting(key: String, fallback: String) -> String:
	if not Engine.is_editor_hint():
		return fallback
	var es := EditorInterface.get_editor_settings()
	return str(es.get_project_metadata("pixelsprite", key, fallback))


func _save_setting(key: String, value: String) -> void:
	if Engine.is_editor_hint():
		EditorInterface.get_editor_settings().set_project_metadata("pixelsprite", key, value)
