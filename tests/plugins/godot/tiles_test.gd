extends SceneTree
## The dock with a tile model (`tiling: true` in its catalog entry) against a real `pixelsprite serve` with the tiny
## tiling pixel model `ttile` (8x8, labels a/b) and the tiny VAE `tiny`, headless: a tile shows in the preview repeated
## 3x3 (a sprite does not), step previews too; "Save tiles as TileSet" writes <name>.tres + <name>.png into the folder,
## a new name on every save (never over a file), the selected tiles or all; it refuses in words with no results, with
## a sprite model's results, and outside res://, and the dock goes on working.
##
##   godot --headless --path PROJECT -s res://tests/tiles_test.gd -- ws://127.0.0.1:PORT
##
## Writes res://tiles_report.json and res://tiles_ref/tile-<i>.png (the tiles as the dock holds them), which
## tileset_check.gd (after an import) and the Python test compare with the saved TileSets and pixelsprite.api;
## exit status 0 when every check passed.

const Connection := preload("res://addons/pixelsprite/connection.gd")
const Dock := preload("res://addons/pixelsprite/dock.gd")
const Protocol := preload("res://addons/pixelsprite/protocol.gd")
const SpriteFiles := preload("res://addons/pixelsprite/sprite_files.gd")

const TIMEOUT_MS := 60000
const OUT := "res://tiles_out"

var conn: Connection
var dock
var report := {"checks": [], "failures": [], "tilesets": {}}


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


func generate(count: int, seed: int) -> Dictionary:
	dock._count.value = count
	dock._seed.text = str(seed)
	var seen := {"previews": 0, "preview_sizes": [], "result": false}
	dock._on_generate_pressed()
	var id := str(dock._job.get("id", ""))
	var original: Callable = conn._callbacks.get(id, Callable())
	conn._callbacks[id] = func(answer: Dictionary) -> void:
		original.call(answer)
		if answer.get("type") == "progress" and answer.has("images"):
			seen["previews"] += 1
			for i in range(dock._sprites.size(), dock._preview.item_count):
				seen["preview_sizes"].append(Vector2i(dock._preview.get_item_icon(i).get_size()))
		elif answer.get("type") == "result":
			seen["result"] = true
	check(await wait_until(func() -> bool: return dock._job.is_empty()), "generate finishes: " + dock._message.text)
	return seen


## The preview item's icon is the tile repeated 3x3, pixel for pixel.
func icon_is_repeat(i: int) -> bool:
	var tile: Image = dock._sprites[i]["image"]
	var icon: Image = dock._preview.get_item_icon(i).get_image()
	if icon.get_size() != tile.get_size() * 3:
		return false
	for y in icon.get_height():
		for x in icon.get_width():
			if icon.get_pixel(x, y) != tile.get_pixel(x % tile.get_width(), y % tile.get_height()):
				return false
	return true


func sha(path: String) -> String:
	return FileAccess.get_sha256(path)


func save_tileset() -> String:
	dock._on_save_tileset_pressed()
	return dock._message.text


func _run() -> void:
	var args := OS.get_cmdline_user_args()
	conn = Connection.new()
	conn.auto_reconnect = false
	dock = Dock.new()
	dock.setup(conn)
	root.size = Vector2i(360, 700)
	root.add_child(dock)
	dock.set_anchors_and_offsets_preset(Control.PRESET_FULL_RECT)
	await process_frame
	dock._url.text = args[0]
	dock._on_connect_pressed()
	check(await wait_until(func() -> bool: return dock._models.has("ttile") and dock._models.has("tiny")),
		"models arrive: " + dock._status.text)
	report["catalog_tiling"] = {"ttile": dock._models["ttile"].get("tiling"), "tiny": dock._models["tiny"].get("tiling")}
	check(report["catalog_tiling"] == {"ttile": true, "tiny": false}, "tiling in the catalog: %s" % str(
		report["catalog_tiling"]))
	dock._folder.text = OUT

	# nothing generated yet: Save as TileSet says so
	select_model("ttile")
	check(dock._tileset_box.is_visible_in_tree(), "the TileSet row shows for a tile model")
	check(save_tileset().begins_with("Nothing to save as a TileSet"), "no results: " + dock._message.text)

	# a sprite model: no TileSet row, sprites shown as they are, and its sprites are refused as tiles
	select_model("tiny")
	check(not dock._tileset_box.visible and not dock._tileset_box.is_visible_in_tree(), "no TileSet row for a VAE")
	var zoom := int(dock._zoom.value)
	await generate(2, 3)
	check(dock._sprites.size() == 2 and not dock._sprites[0]["tiling"], "two sprites from the VAE")
	check(Vector2i(dock._preview.get_item_icon(0).get_size()) == Vector2i(8, 8)
		and dock._preview.fixed_icon_size == Vector2i(8, 8) * zoom,
		"a sprite is shown once: %s at %s" % [str(dock._preview.get_item_icon(0).get_size()),
		str(dock._preview.fixed_icon_size)])
	select_model("ttile")  # the preview still holds the VAE's sprites
	check(save_tileset().contains("tiny makes sprites, not seamless tiles"), "sprites refused: " + dock._message.text)
	check(not DirAccess.dir_exists_absolute(OUT), "nothing written for a refused save")

	# tiles: each shown repeated 3x3, step previews too; the entries keep the one tile
	zoom = int(dock._zoom.value)
	report["request"] = {}
	dock._count.value = 5
	dock._seed.text = "7"
	var sent: Dictionary = Protocol.generate("x", 5, dock.settings())
	for k in sent:
		report["request"][k] = sent[k]
	var seen := await generate(5, 7)
	check(seen["result"] and dock._sprites.size() == 5 and dock._preview.item_count == 5, "five tiles")
	report["previews"] = seen["previews"]
	check(seen["preview_sizes"].all(func(s) -> bool: return s == Vector2i(24, 24)),
		"step previews repeated 3x3 too: %s" % str(seen["preview_sizes"]))
	check(dock._preview.fixed_icon_size == Vector2i(24, 24) * zoom, "icons of 3x3 tiles at %dx: %s" % [zoom,
		str(dock._preview.fixed_icon_size)])
	check(dock._preview.texture_filter == CanvasItem.TEXTURE_FILTER_NEAREST, "the preview is nearest-filtered")
	report["seeds"] = []
	DirAccess.make_dir_recursive_absolute("res://tiles_ref")
	for i in dock._sprites.size():
		var entry: Dictionary = dock._sprites[i]
		report["seeds"].append(entry["seed"])
		check(entry["tiling"] and entry["image"].get_size() == Vector2i(8, 8), "entry %d is one 8x8 tile" % i)
		check(icon_is_repeat(i), "preview %d is its tile repeated 3x3" % i)
		check(dock._preview.get_item_tooltip(i).contains("repeated 3x3"), "tooltip: " + dock._preview.get_item_tooltip(i))
		entry["image"].save_png("res://tiles_ref/tile-%d.png" % i)
	check(report["seeds"] == [7, 8, 9, 10, 11], "seeds: %s" % str(report["seeds"]))

	# outside res://: refused
	dock._folder.text = "user://tiles"
	check(save_tileset().contains("inside the project"), "outside res:// refused: " + dock._message.text)
	dock._folder.text = OUT

	# Save all (nothing selected): ttile.tres + ttile.png
	dock._preview.deselect_all()
	var text := save_tileset()
	check(FileAccess.file_exists(OUT + "/ttile.tres") and FileAccess.file_exists(OUT + "/ttile.png"),
		"saved: " + text)
	check(text.contains("all 5 tiles") and text.contains("8x8"), "says what it saved: " + text)
	check(FileAccess.file_exists(OUT + "/ttile.png.import"), "pixel-art import settings for the atlas")
	report["tilesets"]["ttile"] = {"tiles": [0, 1, 2, 3, 4]}
	var first := {"tres": sha(OUT + "/ttile.tres"), "png": sha(OUT + "/ttile.png")}

	# again: a new name, the first files untouched
	text = save_tileset()
	check(FileAccess.file_exists(OUT + "/ttile-2.tres") and FileAccess.file_exists(OUT + "/ttile-2.png"),
		"saved again under a new name: " + text)
	check(first == {"tres": sha(OUT + "/ttile.tres"), "png": sha(OUT + "/ttile.png")}, "the first TileSet untouched")
	report["tilesets"]["ttile-2"] = {"tiles": [0, 1, 2, 3, 4]}

	# the selected tiles only
	dock._preview.select(1)
	dock._preview.select(3, false)
	text = save_tileset()
	check(FileAccess.file_exists(OUT + "/ttile-3.tres") and text.contains("2 selected tiles"), "selected: " + text)
	report["tilesets"]["ttile-3"] = {"tiles": [1, 3]}

	# a name pattern; a free name also when only the atlas PNG of that name exists
	dock._preview.deselect_all()
	dock._tileset_name.text = "{model}-floor"
	var blocker := Image.create(2, 2, false, Image.FORMAT_RGBA8)
	blocker.save_png(OUT + "/ttile-floor.png")  # someone else's file: neither overwritten nor paired
	text = save_tileset()
	check(FileAccess.file_exists(OUT + "/ttile-floor-2.tres") and FileAccess.file_exists(OUT + "/ttile-floor-2.png")
		and not FileAccess.file_exists(OUT + "/ttile-floor.tres"), "a name whose PNG exists is skipped: " + text)
	check(Image.load_from_file(ProjectSettings.globalize_path(OUT + "/ttile-floor.png")).get_size() == Vector2i(2, 2),
		"the existing PNG untouched")
	report["tilesets"]["ttile-floor-2"] = {"tiles": [0, 1, 2, 3, 4]}

	# the dock still works after the refusals: a sprite model generates again
	select_model("tiny")
	await generate(1, 5)
	check(dock._sprites.size() == 1 and Vector2i(dock._preview.get_item_icon(0).get_size()) == Vector2i(8, 8),
		"a VAE generates again, shown once: " + dock._message.text)
	conn.close()

	var f := FileAccess.open("res://tiles_report.json", FileAccess.WRITE)
	f.store_string(JSON.stringify(report, "  "))
	f.close()
	print("tiles_test: %d checks, %d failures" % [report["checks"].size(), report["failures"].size()])
	dock.queue_free()
	quit(1 if not report["failures"].is_empty() else 0)
