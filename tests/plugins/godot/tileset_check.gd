extends SceneTree
## After `godot --import`: each TileSet the dock saved (tiles_test.gd, listed in res://tiles_report.json) loads as a
## TileSet with tile_size 8x8 and one TileSetAtlasSource: texture_region_size 8x8, one tile per saved tile, in atlas
## order; its texture a CanvasTexture with Nearest filtering around the imported atlas PNG (a CompressedTexture2D,
## not pixels embedded in the .tres), whose tile regions hold exactly the tiles the dock had (res://tiles_ref);
## Godot's padded runtime texture keeps the filter; a TileMapLayer paints with the TileSet.
##
##   godot --headless --path PROJECT -s res://tests/tileset_check.gd
##
## Writes res://tileset_report.json; exit status 0 when every check passed.

var report := {"checks": [], "failures": [], "tilesets": {}}


func check(ok: bool, what: String) -> void:
	report["checks"].append(what)
	if not ok:
		report["failures"].append(what)
		printerr("FAILED: " + what)


func _initialize() -> void:
	_run.call_deferred()


func _run() -> void:
	var made: Dictionary = JSON.parse_string(FileAccess.get_file_as_string("res://tiles_report.json"))
	var refs := []
	for i in made["seeds"].size():
		refs.append(Image.load_from_file(ProjectSettings.globalize_path("res://tiles_ref/tile-%d.png" % i)))
	for name in made["tilesets"]:
		var path := "res://tiles_out/%s.tres" % name
		var want: Array = made["tilesets"][name]["tiles"]
		var info := {}
		report["tilesets"][name] = info
		var tile_set = load(path)
		check(tile_set is TileSet, "%s loads as a TileSet: %s" % [path, str(tile_set)])
		if not tile_set is TileSet:
			continue
		info["tile_size"] = [tile_set.tile_size.x, tile_set.tile_size.y]
		info["sources"] = tile_set.get_source_count()
		check(tile_set.tile_size == Vector2i(8, 8), "%s: tile_size %s" % [name, str(tile_set.tile_size)])
		check(tile_set.get_source_count() == 1, "%s: one source" % name)
		var source = tile_set.get_source(tile_set.get_source_id(0))
		check(source is TileSetAtlasSource, "%s: an atlas source" % name)
		if not source is TileSetAtlasSource:
			continue
		var atlas_source: TileSetAtlasSource = source
		info["texture_region_size"] = [atlas_source.texture_region_size.x, atlas_source.texture_region_size.y]
		info["tiles"] = atlas_source.get_tiles_count()
		check(atlas_source.texture_region_size == Vector2i(8, 8), "%s: texture_region_size 8x8" % name)
		check(atlas_source.get_tiles_count() == want.size(), "%s: %d tiles (want %d)" % [name,
			atlas_source.get_tiles_count(), want.size()])
		# filtering: a CanvasTexture with Nearest around the imported PNG
		var canvas_texture = atlas_source.texture
		check(canvas_texture is CanvasTexture, "%s: the atlas texture is a CanvasTexture: %s" % [name,
			str(canvas_texture)])
		if not canvas_texture is CanvasTexture:
			continue
		info["texture_filter"] = canvas_texture.texture_filter
		check(canvas_texture.texture_filter == CanvasItem.TEXTURE_FILTER_NEAREST, "%s: nearest filtering" % name)
		var diffuse: Texture2D = canvas_texture.diffuse_texture
		info["diffuse"] = [diffuse.get_class() if diffuse != null else "null",
			diffuse.resource_path if diffuse != null else ""]
		check(diffuse is CompressedTexture2D and diffuse.resource_path == "res://tiles_out/%s.png" % name,
			"%s: the imported atlas PNG: %s" % [name, str(info["diffuse"])])
		if diffuse == null:
			continue
		var atlas := diffuse.get_image()
		if atlas.get_format() != Image.FORMAT_RGBA8:
			atlas.convert(Image.FORMAT_RGBA8)
		var cols: int = min(8, want.size())
		check(atlas.get_size() == Vector2i(8 * cols, 8 * ((want.size() + cols - 1) / cols)),
			"%s: atlas %s" % [name, str(atlas.get_size())])
		info["regions"] = []
		for k in want.size():
			var coords := Vector2i(k % cols, k / cols)
			check(atlas_source.has_tile(coords), "%s: a tile at %s" % [name, str(coords)])
			var region: Rect2i = atlas_source.get_tile_texture_region(coords)
			info["regions"].append([region.position.x, region.position.y, region.size.x, region.size.y])
			var ref: Image = refs[int(want[k])]
			check(atlas.get_region(region).get_data() == ref.get_data(), "%s: tile %s is the dock's tile %d" % [name,
				str(coords), int(want[k])])
		# Godot draws from a padded copy (use_texture_padding): it is made from the CanvasTexture and keeps the filter
		await process_frame
		var runtime = atlas_source.get_runtime_texture()
		info["runtime"] = [runtime.get_class() if runtime != null else "null",
			runtime.texture_filter if runtime is CanvasTexture else -1]
		check(atlas_source.use_texture_padding and runtime is CanvasTexture
			and runtime.texture_filter == CanvasItem.TEXTURE_FILTER_NEAREST,
			"%s: the padded runtime texture keeps Nearest: %s" % [name, str(info["runtime"])])
		# a map painted with it: 3x3 of the first tile
		var layer := TileMapLayer.new()
		layer.tile_set = tile_set
		root.add_child(layer)
		for y in 3:
			for x in 3:
				layer.set_cell(Vector2i(x, y), tile_set.get_source_id(0), Vector2i.ZERO)
		check(layer.get_used_cells().size() == 9 and layer.get_cell_tile_data(Vector2i(2, 2)) != null,
			"%s: a TileMapLayer paints with it" % name)
		layer.queue_free()
	var f := FileAccess.open("res://tileset_report.json", FileAccess.WRITE)
	f.store_string(JSON.stringify(report, "  "))
	f.close()
	print("tileset_check: %d checks, %d failures" % [report["checks"].size(), report["failures"].size()])
	quit(1 if not report["failures"].is_empty() else 0)
