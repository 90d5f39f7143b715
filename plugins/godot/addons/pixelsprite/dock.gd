@tool
extends ScrollContainer
## The pixelsprite dock: server status, generation settings, a nearest-filtered preview grid (with a diffusion/flow
## model's step previews while it runs, when the server offers them), saving into res://,
## variations, interpolation and repainting (inpaint) of textures selected in the FileSystem dock, palette export,
## and the project's texture filter. A tile model's results (`tiling` in its catalog entry) show repeated 3x3, where a
## seam would show, and can be saved as a TileSet. The model's catalog entry (`operations`, `parameters`, `steps`, `defaults`)
## decides which fields and buttons show; nothing here knows model families. Built in code; talks to the server only through connection.gd and protocol.gd, writes files only
## through sprite_files.gd.

const Protocol := preload("protocol.gd")
const Connection := preload("connection.gd")
const SpriteFiles := preload("sprite_files.gd")

const FILTER_SETTING := "rendering/textures/canvas_textures/default_texture_filter"
const IMAGE_EXTENSIONS := ["png", "webp", "bmp", "tga", "jpg", "jpeg"]
## A tile shows repeated TILE_REPEAT x TILE_REPEAT in the preview; the zoom is lowered so that this stays within
## TILE_PREVIEW_MAX screen pixels when a tile model is chosen.
const TILE_REPEAT := 3
const TILE_PREVIEW_MAX := 192

var connection: Connection
## Returns the res:// paths selected in the FileSystem dock; replaceable where there is no editor (tests).
var selection_provider := Callable()

var _models := {}  # name -> the `models` entry
var _sprites := []  # preview entries: {"image": Image, "seed": int or null, "model": String, "op": String,
# "tiling": bool (made by a tile model: the preview shows it repeated 3x3; the entry keeps the one tile)}
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
var _temperature: SpinBox  # its row shows only for models whose `parameters` list "temperature"
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
var _tileset_box: Control  # shown only for models whose catalog entry says `tiling`
var _tileset_name: LineEdit
var _strength: SpinBox
var _frames: SpinBox
var _method: OptionButton
var _fps: SpinBox
var _variations_button: Button
var _interpolate_button: Button
var _repaint_box: Control  # shown only for models whose `operations` list "inpaint"
var _repaint_backdrop: Control  # a checkerboard behind the canvas, so that transparent pixels read as such
var _repaint_canvas: TextureRect  # the selected texture, nearest-filtered; drag on it to set the rectangle
var _repaint_overlay: Control  # draws the rectangle over the canvas
var _repaint_note: Label
var _rect_x: SpinBox
var _rect_y: SpinBox
var _rect_w: SpinBox
var _rect_h: SpinBox
var _repaint_button: Button
var _repaint_save: Button
var _repaint_source := {"path": "", "modified": 0, "image": null}  # the texture the canvas shows
var _drag_from := Vector2i(-1, -1)  # the pixel a drag on the canvas started on
var _hello_steps := [1, 1000]  # the server's steps range (hello limits), for models without their own
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
	var poll := Timer.new()  # the FileSystem dock has no selection signal: look for a new texture twice a second
	poll.wait_time = 0.5
	poll.timeout.connect(func() -> void:
		if _repaint_box.is_visible_in_tree():
			_refresh_repaint_source())
	add_child(poll)
	poll.start()
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
	control.set_meta("row_label", label)
	return control


## Shows or hides a `_row` (its label too).
func _show_row(control: Control, shown: bool) -> void:
	control.visible = shown
	(control.get_meta("row_label") as Control).visible = shown


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
	_more.tooltip_text = ("Steps, solver, guidance, temperature, candidates, palette, dither, clean-up and colour "
		+ "limit.")
	sec.add_child(_more)
	var more_grid := _grid(sec)
	_more_box = more_grid
	_more.toggled.connect(_on_more_toggled)
	grid = more_grid
	_steps = _row(grid, "Steps", _spin(1, 1000, 16), "Sampler steps (models that sample in steps; the range and default are the model's).")
	_solver = _row(grid, "Solver", OptionButton.new(), "Sampler (models that sample in steps list theirs).")
	_guidance = _row(grid, "Guidance", _spin(0, 20, 1.0, 0.1),
		"Classifier-free guidance (conditional models): 0 unconditional, 1 conditional, >1 stronger.")
	_temperature = _row(grid, "Temperature", _spin(0.01, 2.0, 1.0, 0.01),
		"Sampling temperature (0..2]: each pixel's colour is drawn at this temperature; lower is safer, higher more "
		+ "varied. Only models that take it show this field.")
	_show_row(_temperature, false)
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
	_build_tileset(sec)


## TileSet: the tiles (selected, or all) as one atlas PNG and a TileSet with one atlas source; tile models only.
func _build_tileset(sec: VBoxContainer) -> void:
	_tileset_box = VBoxContainer.new()
	_tileset_box.visible = false  # until a tile model is chosen
	sec.add_child(_tileset_box)
	var grid := _grid(_tileset_box)
	_tileset_name = _row(grid, "TileSet", LineEdit.new(),
		"Name of the TileSet in the folder above: {model} is the model's name; .tres is added.")
	_tileset_name.text = _load_setting("tileset_name", SpriteFiles.DEFAULT_TILESET_NAME)
	_tileset_box.add_child(_button("Save tiles as TileSet", _on_save_tileset_pressed,
		"The selected tiles (none selected: all) as <name>.tres, a TileSet with one atlas source of the tile size and"
		+ " nearest filtering, and <name>.png, its atlas. Never overwrites: a name in use becomes <name>-2, -3, ..."))


func _build_textures(box: VBoxContainer) -> void:
	var sec := _section(box, "From textures in the FileSystem dock")
	var grid := _grid(sec)
	_strength = _row(grid, "Strength", _spin(0.0, 2.0, 0.5, 0.05), "How far variations stray (0..2).")
	_frames = _row(grid, "Frames", _spin(2, 64, 8), "Interpolation frames, both ends included.")
	_method = _row(grid, "Method", OptionButton.new())
	_method.add_item("slerp")
	_method.add_item("lerp")
	_fps = _row(grid, "FPS", _spin(1, 60, 8), "Speed of the SpriteFrames animation.")
	_variations_button = _button("Variations of selected texture", _on_variations_pressed,
		"Count variations of the texture selected in the FileSystem dock (it must have the model's size).")
	sec.add_child(_variations_button)
	_interpolate_button = _button("Interpolate two selected textures", _on_interpolate_pressed,
		"Frames from one selected texture to the other, saved as PNGs plus a SpriteFrames resource.")
	sec.add_child(_interpolate_button)
	_build_repaint(sec)


## Repaint: a rectangle of the selected texture is regenerated (`inpaint`), every other pixel is kept exactly.
func _build_repaint(sec: VBoxContainer) -> void:
	_repaint_box = VBoxContainer.new()
	_repaint_box.visible = false  # until a model that inpaints is chosen
	sec.add_child(_repaint_box)
	var title := Label.new()
	title.text = "Repaint a rectangle"
	title.tooltip_text = "Regenerates the pixels inside the rectangle and keeps every other pixel exactly."
	_repaint_box.add_child(title)
	_repaint_note = Label.new()
	_repaint_note.autowrap_mode = TextServer.AUTOWRAP_WORD_SMART
	_repaint_note.text = "Select one texture of the model's size in the FileSystem dock."
	_repaint_box.add_child(_repaint_note)
	_repaint_backdrop = Control.new()
	_repaint_backdrop.size_flags_horizontal = Control.SIZE_SHRINK_BEGIN
	_repaint_backdrop.mouse_filter = Control.MOUSE_FILTER_IGNORE
	_repaint_backdrop.draw.connect(_draw_checker)
	_repaint_box.add_child(_repaint_backdrop)
	_repaint_canvas = TextureRect.new()
	_repaint_canvas.texture_filter = CanvasItem.TEXTURE_FILTER_NEAREST
	_repaint_canvas.expand_mode = TextureRect.EXPAND_IGNORE_SIZE
	_repaint_canvas.stretch_mode = TextureRect.STRETCH_SCALE
	_repaint_canvas.set_anchors_preset(Control.PRESET_FULL_RECT)
	_repaint_canvas.mouse_filter = Control.MOUSE_FILTER_STOP
	_repaint_canvas.mouse_default_cursor_shape = Control.CURSOR_CROSS
	_repaint_canvas.tooltip_text = "Drag to set the rectangle to repaint."
	_repaint_canvas.gui_input.connect(_on_repaint_canvas_input)
	_repaint_backdrop.add_child(_repaint_canvas)
	_repaint_overlay = Control.new()
	_repaint_overlay.mouse_filter = Control.MOUSE_FILTER_IGNORE
	_repaint_overlay.set_anchors_preset(Control.PRESET_FULL_RECT)
	_repaint_overlay.draw.connect(_draw_repaint_rect)
	_repaint_canvas.add_child(_repaint_overlay)
	var grid := GridContainer.new()
	grid.columns = 4
	_repaint_box.add_child(grid)
	var spins := []
	for axis in ["X", "Y", "W", "H"]:
		var label := Label.new()
		label.text = axis
		grid.add_child(label)
		var spin := _spin(0, 1024, 0)
		spin.size_flags_horizontal = Control.SIZE_EXPAND_FILL
		spin.tooltip_text = {"X": "Left column", "Y": "Top row", "W": "Width", "H": "Height"}[axis] + " in pixels."
		spin.value_changed.connect(func(_v: float) -> void: _repaint_overlay.queue_redraw())
		grid.add_child(spin)
		spins.append(spin)
	_rect_x = spins[0]
	_rect_y = spins[1]
	_rect_w = spins[2]
	_rect_h = spins[3]
	_repaint_button = _button("Repaint rectangle of selected texture", _on_repaint_pressed,
		"Count repaintings of the rectangle (seed, steps, temperature... as set above) into the preview.")
	_repaint_box.add_child(_repaint_button)
	_repaint_save = _button("Save picked next to source", _on_repaint_save_pressed,
		"Saves the repaintings selected in the preview next to the texture as <name>-repaint-<seed>.png (a new file;"
		+ " existing files are never overwritten).")
	_repaint_box.add_child(_repaint_save)


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
	_hello_steps = limits.get("steps", [1, 1000])
	_steps.min_value = int(_hello_steps[0])
	_steps.max_value = int(_hello_steps[1])
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
	var steps_range = m.get("steps")  # [min, max] for a model with a sampler, else null
	if typeof(steps_range) != TYPE_ARRAY or steps_range.size() != 2:
		steps_range = _hello_steps
	_steps.min_value = int(steps_range[0])
	_steps.max_value = int(steps_range[1])
	_solver.clear()
	_solver.add_item("(default)")
	for solver in m.get("solvers", []):
		_solver.add_item(str(solver))
	_solver.disabled = not params.has("solver")
	_guidance.editable = params.has("guidance")
	_show_row(_temperature, params.has("temperature"))
	# the model's own defaults, so that a run left as it is gets what the CLI and the API give
	var defaults: Dictionary = m.get("defaults", {})
	if defaults.get("steps") != null:
		_steps.value = int(defaults["steps"])
	if defaults.get("guidance") != null:
		_guidance.value = float(defaults["guidance"])
	if defaults.get("temperature") != null:
		_temperature.value = float(defaults["temperature"])
	var ops: Array = m.get("operations", [])
	_variations_button.disabled = not ops.has("variations")
	_interpolate_button.disabled = not ops.has("interpolate")
	_repaint_box.visible = ops.has("inpaint")
	_tileset_box.visible = _is_tiling(m)
	if _is_tiling(m):  # a 3x3 repeat fits the dock: lower the zoom if needed
		var side: int = TILE_REPEAT * max(1, max(_model_size().x, _model_size().y))
		_zoom.value = min(_zoom.value, max(1, TILE_PREVIEW_MAX / side))
	var sprite_size := _model_size()
	for spin in [_rect_x, _rect_w]:
		spin.max_value = sprite_size.x
	for spin in [_rect_y, _rect_h]:
		spin.max_value = sprite_size.y
	if _rect_w.value < 1 or _rect_h.value < 1:  # a first rectangle: the middle quarter
		_set_repaint_rect(Rect2i(sprite_size / 4, sprite_size / 2))
	_repaint_source["path"] = ""  # reloaded (and checked against the new size) on the next look
	_refresh_repaint_source()
	_max_colors.tooltip_text = "Colours per sprite: -1 the model's default (%s), 0 no limit." % str(
		defaults.get("max_colors", "none"))
	_update_icon_size()


func _current_model() -> Dictionary:
	if _model.selected < 0:
		return {}
	return _models.get(_model.get_item_text(_model.selected), {})


## Whether a catalog entry (or the entry of the model with this name) makes seamless tiles.
func _is_tiling(model) -> bool:
	var m: Dictionary = model if typeof(model) == TYPE_DICTIONARY else _models.get(str(model), {})
	return m.get("tiling", false) == true


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
	if params.has("temperature"):
		s["temperature"] = ("%.4f" % _temperature.value).to_float()  # 0.9, not the spin box's 0.9000000000000001
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
					str(answer.get("op", _job["kind"])), str(_job.get("source", "")))
			_job["done"] = int(_job["done"]) + images.size()
			_set_progress(int(_job["done"]), int(_job["total"]))
			if _job["kind"] == "generate":
				_send_next_chunk()
			else:
				var after: Callable = _job.get("after", Callable())
				var done_text: String = _job.get("done_text", "Made %d sprites.") % images.size()
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
func _add_sprite(image: Image, seed, model: String, op: String, source: String = "") -> void:
	if image == null:
		_show("The server sent an image that could not be decoded.")
		return
	var index := _sprites.size()
	var tiling := _is_tiling(model)
	_sprites.append({"image": image, "seed": seed, "model": model, "op": op, "index": index, "source": source,
		"tiling": tiling})
	var item := _preview.add_icon_item(_preview_texture(image, tiling))
	var tip := "seed %s" % str(seed) if seed != null else "frame %d" % index
	_preview.set_item_tooltip(item, tip + (" (a tile, shown repeated %dx%d)" % [TILE_REPEAT, TILE_REPEAT] if tiling
		else ""))
	if index == 0:
		_update_icon_size()


## What the preview draws for a sprite: the sprite, or a tile repeated TILE_REPEAT x TILE_REPEAT (a seam shows only
## where a tile meets its copies).
func _preview_texture(image: Image, tiling: bool) -> ImageTexture:
	return ImageTexture.create_from_image(SpriteFiles.repeat_image(image, TILE_REPEAT) if tiling else image)


## Draws a `progress` answer's preview images after the finished sprites, replacing the previous preview: dimmed and
## not selectable, so neither Save nor Export palette can pick them; the result (or an error/cancel) removes them.
func _show_step_preview(answer: Dictionary) -> void:
	_drop_step_preview()
	var step := "preview at step %d of %d: not final" % [int(answer.get("done", 0)), int(answer.get("total", 0))]
	var tiling := _is_tiling(_current_model())
	for image in Protocol.result_images(answer):
		if image == null:
			continue
		var item := _preview.add_icon_item(_preview_texture(image, tiling), false)
		_preview.set_item_icon_modulate(item, Color(1, 1, 1, 0.55))
		_preview.set_item_tooltip(item, step)


func _drop_step_preview() -> void:
	while _preview.item_count > _sprites.size():
		_preview.remove_item(_preview.item_count - 1)


func _clear_preview() -> void:
	_sprites.clear()
	_preview.clear()


## Icons at an integer zoom: of the preview's first item (the sprites shown, a tile's 3x3 repeat), or with an empty
## preview of what the chosen model makes.
func _update_icon_size() -> void:
	var size := _model_size() * (TILE_REPEAT if _is_tiling(_current_model()) else 1)
	if _preview.item_count > 0 and _preview.get_item_icon(0) != null:
		size = Vector2i(_preview.get_item_icon(0).get_size())
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


## Saves the selected tiles (none selected: all) as a TileSet and its atlas PNG under a free name in the folder.
## Refuses in words when there is nothing to save or a picked result is not a tile.
func _on_save_tileset_pressed() -> void:
	var indices := []
	for i in _preview.get_selected_items():
		if i < _sprites.size():
			indices.append(i)
	var which := "selected"
	if indices.is_empty():
		indices = range(_sprites.size())
		which = "all"
	if indices.is_empty():
		_show("Nothing to save as a TileSet: generate tiles with a tile model first.")
		return
	var images := []
	var model := str(_sprites[indices[0]]["model"])
	var tile_size := Vector2i(_sprites[indices[0]]["image"].get_size())
	for i in indices:
		var sprite: Dictionary = _sprites[i]
		if not sprite["tiling"]:
			_show(("%s makes sprites, not seamless tiles: a TileSet needs tiles from a tile model (one whose catalog "
				+ "entry says tiling, e.g. tiles16).") % str(sprite["model"]))
			return
		if Vector2i(sprite["image"].get_size()) != tile_size:
			_show("The tiles differ in size (%s and %s): save tiles of one size into one TileSet." % [
				str(tile_size), str(Vector2i(sprite["image"].get_size()))])
			return
		images.append(sprite["image"])
	var folder := _folder.text.strip_edges().trim_suffix("/")
	if not SpriteFiles.is_res_folder(folder):
		_show("The folder must be inside the project (start with res://).")
		return
	var name := _tileset_name.text.strip_edges()
	if name == "":
		name = SpriteFiles.DEFAULT_TILESET_NAME
	_save_setting("folder", folder)
	_save_setting("tileset_name", name)
	name = name.replace("{model}", model).validate_filename().trim_suffix(".tres")
	var base := SpriteFiles.free_base(folder.path_join(name), ["tres", "png"])
	var out := SpriteFiles.save_tile_set(base + ".tres", images, tile_size)
	if out["error"] != OK:
		_show("TileSet not written: %s (%s)." % [error_string(out["error"]), out["tres"]])
		return
	var what := ("all %d tiles" if which == "all" else "the %d selected tiles") % images.size()
	_show("Saved %s: a TileSet of %s (%dx%d, nearest filtering) in one atlas source; atlas %s." % [
		out["tres"], what, tile_size.x, tile_size.y, str(out["png"]).get_file()])
	_rescan()


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


# --------------------------------------------------------------------------------------------------- repaint
## The rectangle the spin boxes say, clipped to the sprite.
func _repaint_rect() -> Rect2i:
	var r := Rect2i(int(_rect_x.value), int(_rect_y.value), int(_rect_w.value), int(_rect_h.value))
	return r.intersection(Rect2i(Vector2i.ZERO, _model_size()))


func _set_repaint_rect(r: Rect2i) -> void:
	_rect_x.value = r.position.x
	_rect_y.value = r.position.y
	_rect_w.value = r.size.x
	_rect_h.value = r.size.y


## Shows the texture selected in the FileSystem dock on the canvas when it changed (another file, or the same file
## rewritten); says why not when the selection is not one texture of the model's size.
func _refresh_repaint_source() -> void:
	var paths := _selected_texture_paths()
	if paths.size() != 1:
		if _repaint_source["path"] != "":
			return  # keep showing the last texture; Repaint checks the selection again
		_repaint_note.text = "Select one texture of the model's size in the FileSystem dock."
		return
	var path := paths[0]
	var modified := FileAccess.get_modified_time(path)
	if path == _repaint_source["path"] and modified == _repaint_source["modified"]:
		return
	_repaint_source = {"path": path, "modified": modified, "image": null}
	var image := Image.load_from_file(ProjectSettings.globalize_path(path))
	var size := _model_size()
	if image == null or image.get_width() != size.x or image.get_height() != size.y:
		_repaint_canvas.texture = null
		_repaint_backdrop.custom_minimum_size = Vector2.ZERO
		_repaint_note.text = "%s is not a %dx%d texture: select one of the model's size." % [
			path.get_file(), size.x, size.y]
		return
	if image.get_format() != Image.FORMAT_RGBA8:
		image.convert(Image.FORMAT_RGBA8)
	_show_repaint_source(path, image)


func _show_repaint_source(path: String, image: Image) -> void:
	_repaint_source = {"path": path, "modified": FileAccess.get_modified_time(path), "image": image}
	_repaint_canvas.texture = ImageTexture.create_from_image(image)
	_repaint_backdrop.custom_minimum_size = Vector2(image.get_size() * _repaint_zoom())
	_repaint_backdrop.queue_redraw()
	_repaint_note.text = "%s: drag on it or set the rectangle." % path.get_file()
	_repaint_overlay.queue_redraw()


## The canvas's integer zoom: about 128 pixels on the longer side.
func _repaint_zoom() -> int:
	var size := _model_size()
	return max(1, 128 / max(1, max(size.x, size.y)))


## Grey checks of half a sprite pixel (at least 2 screen pixels) behind the canvas: transparent pixels show as checks.
func _draw_checker() -> void:
	var area := _repaint_backdrop.size
	var cell := maxf(2.0, _repaint_zoom() / 2.0)
	var rows := int(ceil(area.y / cell))
	var cols := int(ceil(area.x / cell))
	for j in rows:
		for i in cols:
			var shade := 0.42 if (i + j) % 2 == 0 else 0.30
			var r := Rect2(Vector2(i, j) * cell, Vector2(cell, cell)).intersection(Rect2(Vector2.ZERO, area))
			_repaint_backdrop.draw_rect(r, Color(shade, shade, shade))


func _draw_repaint_rect() -> void:
	if _repaint_canvas.texture == null:
		return
	var z := float(_repaint_zoom())
	var r := _repaint_rect()
	if not r.has_area():
		return
	var box := Rect2(Vector2(r.position) * z, Vector2(r.size) * z)
	_repaint_overlay.draw_rect(box, Color(1.0, 0.85, 0.2, 0.12))
	_repaint_overlay.draw_rect(box, Color(1.0, 0.85, 0.2), false, 2.0)


## Dragging on the canvas sets the rectangle from the pixel under the press to the pixel under the pointer.
func _on_repaint_canvas_input(event: InputEvent) -> void:
	if _repaint_canvas.texture == null:
		return
	var size := _model_size()
	var button := event as InputEventMouseButton
	var motion := event as InputEventMouseMotion
	if button != null and button.button_index == MOUSE_BUTTON_LEFT:
		if button.pressed:
			_drag_from = _canvas_pixel(button.position, size)
			_set_repaint_rect(Rect2i(_drag_from, Vector2i.ONE))
		else:
			_drag_from = Vector2i(-1, -1)
		_repaint_canvas.accept_event()
	elif motion != null and _drag_from.x >= 0 and (motion.button_mask & MOUSE_BUTTON_MASK_LEFT) != 0:
		var p := _canvas_pixel(motion.position, size)
		var lo := Vector2i(min(p.x, _drag_from.x), min(p.y, _drag_from.y))
		var hi := Vector2i(max(p.x, _drag_from.x), max(p.y, _drag_from.y))
		_set_repaint_rect(Rect2i(lo, hi - lo + Vector2i.ONE))
		_repaint_canvas.accept_event()


func _canvas_pixel(pos: Vector2, size: Vector2i) -> Vector2i:
	var p := Vector2i((pos / float(_repaint_zoom())).floor())
	return p.clamp(Vector2i.ZERO, size - Vector2i.ONE)


func _on_repaint_pressed() -> void:
	if not _ready_to_send():
		return
	var m := _current_model()
	if not Array(m.get("operations", [])).has("inpaint"):
		_show("%s cannot repaint: choose a model that inpaints." % str(m.get("name", "This model")))
		return
	var paths := _selected_texture_paths()
	if paths.size() != 1:
		_show("Select one texture (PNG) in the FileSystem dock first.")
		return
	var image := _load_source_image(paths[0])
	if image == null:
		return
	_show_repaint_source(paths[0], image)
	var rect := _repaint_rect()
	if not rect.has_area():
		_show("Set a rectangle inside the %dx%d sprite first (drag on it, or X, Y, W, H)." % [
			_model_size().x, _model_size().y])
		return
	var count := int(_count.value)
	_clear_preview()
	_start_job({"kind": "inpaint", "total": count, "done": 0, "chunk_base": 0, "source": paths[0],
		"done_text": "Made %d repaintings: pick one and press Save picked next to source."})
	_job["id"] = connection.request(
		Protocol.inpaint("", image, Protocol.rect_mask(_model_size(), rect), count, settings()), _on_sprite_answer)
	_show("Repainting %dx%d pixels at (%d, %d) of %s..." % [rect.size.x, rect.size.y, rect.position.x,
		rect.position.y, paths[0].get_file()])


## Saves the repaintings selected in the preview next to their source texture, each under a new name.
func _on_repaint_save_pressed() -> void:
	var picked := []
	for i in _preview.get_selected_items():
		if i < _sprites.size() and _sprites[i]["op"] == "inpaint" and str(_sprites[i]["source"]) != "":
			picked.append(_sprites[i])
	if picked.is_empty():
		_show("Pick a repainting in the preview first (click it).")
		return
	var saved := PackedStringArray()
	var errors := []
	for sprite in picked:
		var source := str(sprite["source"])
		var tag = sprite["seed"] if sprite["seed"] != null else "f%d" % int(sprite["index"])
		var path := SpriteFiles.free_path(source.get_basename() + "-repaint-%s.png" % str(tag))
		var out := SpriteFiles.save_pngs([sprite["image"]], PackedStringArray([path]), false)
		saved.append_array(PackedStringArray(out["saved"]))
		errors.append_array(out["errors"])
	var text := "Saved %s." % ", ".join(saved) if not saved.is_empty() else "Nothing saved."
	if not errors.is_empty():
		text += " Problems: " + "; ".join(PackedStringArray(errors))
	_show(text)
	_rescan()


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
