@tool
extends EditorPlugin
## Screenshot driver for the pixelsprite dock, used by plugins/godot/tools/dock_screenshot.py in a throwaway copy of
## the demo project (never shipped): once the editor is up, it brings the pixelsprite dock to the front, connects to
## the server given after "--" on the command line, generates with the settings given next (JSON), waits for the
## result, saves the editor window as res://shot.png (and the dock alone as res://shot_dock.png) and quits.
## Progress and failures go to stdout as "shot: ...".

const TIMEOUT_MS := 60000

var _done := false


func _enter_tree() -> void:
	_run.call_deferred()


func _say(text: String) -> void:
	print("shot: " + text)


func _frames(n: int) -> void:
	for i in n:
		await get_tree().process_frame


func _wait(cond: Callable) -> bool:
	var start := Time.get_ticks_msec()
	while not cond.call():
		if Time.get_ticks_msec() - start > TIMEOUT_MS:
			return false
		await get_tree().process_frame
	return true


func _find_dock() -> Control:
	for node in EditorInterface.get_base_control().find_children("pixelsprite", "ScrollContainer", true, false):
		if node.has_method("settings"):
			return node
	return null


func _run() -> void:
	OS.low_processor_usage_mode = false  # the editor otherwise stops drawing (and processing) when nothing changes
	await _frames(90)  # the editor finishes its first layout and scan
	var dock := _find_dock()
	if dock == null:
		_say("FAILED: no pixelsprite dock")
		get_tree().quit(2)
		return
	var chain := []
	var node: Node = dock
	while node != null and chain.size() < 6:
		chain.append("%s(%s)" % [node.name, node.get_class()])
		node = node.get_parent()
	_say("dock ancestors: " + " < ".join(chain))
	var visible_at_start := dock.is_visible_in_tree()  # its tab is the current one in its slot, without a click
	var before := EditorInterface.get_base_control().get_viewport().get_texture().get_image()
	before.save_png("res://shot_before.png")
	# bring the dock's tab to the front, as a click on its tab would
	node = dock
	while node != null:
		if node.is_class("EditorDock") and node.has_method("make_visible"):
			node.call("make_visible")
			break
		if node.get_parent() is TabContainer:
			node.get_parent().current_tab = node.get_parent().get_tab_idx_from_control(node)
			break
		node = node.get_parent()
	var args := OS.get_cmdline_user_args()  # after "--": the server's URL and the settings as JSON
	var url := args[0]
	var options: Dictionary = JSON.parse_string(args[1])
	dock._url.text = url
	dock._on_connect_pressed()
	if not await _wait(func() -> bool: return dock._model.item_count > 0):
		_say("FAILED: no models: " + dock._status.text)
		get_tree().quit(2)
		return
	_say("connected: " + dock._status.text)
	for i in dock._model.item_count:
		if dock._model.get_item_text(i) == str(options.get("model", "vae16")):
			dock._model.select(i)
			dock._on_model_changed()
	dock._count.value = int(options.get("count", 16))
	dock._seed.text = str(int(options.get("seed", 7)))  # JSON numbers are floats
	if options.has("label"):
		for i in dock._label.item_count:
			if dock._label.get_item_text(i) == str(options["label"]):
				dock._label.select(i)
	dock._on_generate_pressed()
	if not await _wait(func() -> bool: return dock._job.is_empty()):
		_say("FAILED: generate did not finish: " + dock._message.text)
		get_tree().quit(2)
		return
	_say("generated %d sprites: %s" % [dock._preview.item_count, dock._message.text])
	if options.get("select", 0) > 0:
		for i in int(options["select"]):
			dock._preview.select(i, false)
	await _frames(30)
	await RenderingServer.frame_post_draw
	var image := EditorInterface.get_base_control().get_viewport().get_texture().get_image()
	image.save_png("res://shot.png")
	var rect := Rect2i(dock.get_global_rect())
	image.get_region(rect).save_png("res://shot_dock.png")
	_say("saved %s, dock at %s" % [str(image.get_size()), str(rect)])
	var preview: ItemList = dock._preview
	var items := []
	for i in preview.item_count:
		var r := preview.get_item_rect(i)
		r.position += preview.get_global_rect().position
		items.append([int(r.position.x), int(r.position.y), int(r.size.x), int(r.size.y)])
	var view := Rect2i(Vector2i(parent_rect(dock).position), Vector2i(parent_rect(dock).size))
	var report := {
		"visible_at_start": visible_at_start,
		"items": items,
		"selected": Array(preview.get_selected_items()),
		"preview": _rect(preview.get_global_rect()),
		"visible_area": [view.position.x, view.position.y, view.size.x, view.size.y],
		"texture_filter": preview.texture_filter,
		"window": [image.get_width(), image.get_height()],
		"dock": [rect.position.x, rect.position.y, rect.size.x, rect.size.y],
		"preview_items": dock._preview.item_count,
		"icon_size": [dock._preview.fixed_icon_size.x, dock._preview.fixed_icon_size.y],
		"status": dock._status.text,
		"message": dock._message.text,
	}
	FileAccess.open("res://shot_report.json", FileAccess.WRITE).store_string(JSON.stringify(report))
	get_tree().quit(0)


func _rect(r: Rect2) -> Array:
	return [int(r.position.x), int(r.position.y), int(r.size.x), int(r.size.y)]


## The part of the window where the dock's content shows: its ScrollContainer's own rectangle.
func parent_rect(dock: Control) -> Rect2:
	return dock.get_global_rect()
