@tool
extends RefCounted
## Files in res://: sprites as PNGs (hard alpha kept, imported for pixel art), a SpriteFrames resource for frames,
## tiles as a TileSet (one atlas PNG + one TileSetAtlasSource, nearest filtering), and palettes (.gpl, and Godot's
## ColorPalette where the engine has it). File names come from a pattern; nothing is overwritten unless the caller
## says so (the dock asks first).

const DEFAULT_PATTERN := "{model}-{seed}"
const DEFAULT_TILESET_NAME := "{model}"
## Tiles per row of a TileSet's atlas PNG.
const TILESET_COLUMNS := 8
const TOKENS := ["{model}", "{seed}", "{index}", "{op}", "{name}"]

## Import settings written next to each new PNG before Godot first imports it (Godot keeps the [params] of an existing
## .import file): lossless, no mipmaps, no alpha-border bleeding (transparent pixels stay (0, 0, 0, 0)), never
## recompressed to VRAM formats because the texture was seen in 3D. Filtering is not an import option in Godot 4; it
## is CanvasItem.texture_filter or the project's default canvas texture filter (see the dock).
const IMPORT_PARAMS := """[remap]

importer="texture"
type="CompressedTexture2D"

[params]

compress/mode=0
mipmaps/generate=false
process/fix_alpha_border=false
process/premult_alpha=false
detect_3d/compress_to=0
"""


## The file paths for sprites saved into `folder` with `pattern`. `meta` holds one Dictionary per sprite with
## "seed" (int or null) and "index"; `common` the tokens shared by all ("model", "op", "name"). A sprite without a seed
## (interpolation frames, decoded latents) uses its index for {seed}. Names are made safe for file systems.
static func plan_paths(folder: String, pattern: String, meta: Array, common: Dictionary) -> PackedStringArray:
	var out := PackedStringArray()
	if pattern.strip_edges() == "":
		pattern = DEFAULT_PATTERN
	var width: int = max(3, str(meta.size() - 1).length())
	for m in meta:
		var index := int(m.get("index", 0))
		var seed = m.get("seed")
		var name := pattern
		name = name.replace("{model}", str(common.get("model", "sprite")))
		name = name.replace("{op}", str(common.get("op", "generate")))
		name = name.replace("{name}", str(common.get("name", "sprite")))
		name = name.replace("{index}", str(index).pad_zeros(width))
		name = name.replace("{seed}", str(seed) if seed != null else "f" + str(index).pad_zeros(width))
		name = name.validate_filename()
		if not name.to_lower().ends_with(".png"):
			name += ".png"
		out.append(folder.path_join(name))
	# Two sprites must never share a name in one batch (a pattern without {seed}/{index}): number the later ones.
	var seen := {}
	for i in out.size():
		var p := out[i]
		var k := 2
		while seen.has(p):
			p = out[i].get_basename() + "-%d.png" % k
			k += 1
		seen[p] = true
		out[i] = p
	return out


## The paths that already exist (the dock asks before overwriting them).
static func existing(paths: PackedStringArray) -> PackedStringArray:
	var out := PackedStringArray()
	for p in paths:
		if FileAccess.file_exists(p):
			out.append(p)
	return out


## `path` if no file is there yet, else the first free `<name>-2.png`, `<name>-3.png`, ...: a save that never
## overwrites and never needs to ask.
static func free_path(path: String) -> String:
	var out := path
	var k := 2
	while FileAccess.file_exists(out):
		out = "%s-%d.%s" % [path.get_basename(), k, path.get_extension()]
		k += 1
	return out


## The first of `base`, `base-2`, `base-3`, ... (paths without extension) for which no file with any of
## `extensions` exists: a set of files (a TileSet and its atlas) saved together under one new name.
static func free_base(base: String, extensions: Array) -> String:
	var out := base
	var k := 2
	while _any_exists(out, extensions):
		out = "%s-%d" % [base, k]
		k += 1
	return out


static func _any_exists(base: String, extensions: Array) -> bool:
	for ext in extensions:
		if FileAccess.file_exists(base + "." + str(ext)):
			return true
	return false


static func is_res_folder(folder: String) -> bool:
	return folder.begins_with("res://") and not folder.contains("..")


## Saves `images[i]` to `paths[i]` as RGBA PNG (pixels exactly as the server sent them: alpha 0 or 255). Existing
## files are skipped unless `overwrite`. Returns {"saved": [...], "skipped": [...], "errors": [...]} (paths; errors
## as sentences).
static func save_pngs(images: Array, paths: PackedStringArray, overwrite: bool = false) -> Dictionary:
	var saved := []
	var skipped := []
	var errors := []
	for i in min(images.size(), paths.size()):
		var path := paths[i]
		var image: Image = images[i]
		if image == null:
			errors.append("%s: the server's image could not be decoded" % path.get_file())
			continue
		if FileAccess.file_exists(path) and not overwrite:
			skipped.append(path)
			continue
		var dir_err := DirAccess.make_dir_recursive_absolute(path.get_base_dir())
		if dir_err != OK and not DirAccess.dir_exists_absolute(path.get_base_dir()):
			errors.append("%s: cannot create the folder (%s)" % [path.get_base_dir(), error_string(dir_err)])
			continue
		var img := image
		if img.get_format() != Image.FORMAT_RGBA8:
			img = image.duplicate()
			img.convert(Image.FORMAT_RGBA8)
		var err := img.save_png(path)
		if err != OK:
			errors.append("%s: %s" % [path, error_string(err)])
			continue
		write_import_settings(path)
		saved.append(path)
	return {"saved": saved, "skipped": skipped, "errors": errors}


## Writes pixel-art import settings for a PNG that has none yet (an existing .import file, the user's choice, is kept).
static func write_import_settings(png_path: String) -> void:
	var import_path := png_path + ".import"
	if FileAccess.file_exists(import_path):
		return
	var f := FileAccess.open(import_path, FileAccess.WRITE)
	if f != null:
		f.store_string(IMPORT_PARAMS)


## Writes a SpriteFrames resource (one animation, `animation`) whose frames are the textures at `frame_paths`, as a text
## .tres that refers to them, so it can be written before Godot has imported the frames.
static func save_sprite_frames(path: String, frame_paths: Array, fps: float = 8.0, loop: bool = true,
		animation: String = "default") -> Error:
	var lines := PackedStringArray()
	lines.append('[gd_resource type="SpriteFrames" load_steps=%d format=3]' % (frame_paths.size() + 1))
	lines.append("")
	for i in frame_paths.size():
		lines.append('[ext_resource type="Texture2D" path="%s" id="%d"]' % [str(frame_paths[i]).c_escape(), i + 1])
	lines.append("")
	lines.append("[resource]")
	var frames := PackedStringArray()
	for i in frame_paths.size():
		frames.append('{\n"duration": 1.0,\n"texture": ExtResource("%d")\n}' % (i + 1))
	lines.append('animations = [{\n"frames": [%s],\n"loop": %s,\n"name": &"%s",\n"speed": %s\n}]' % [
		", ".join(frames), "true" if loop else "false", animation.c_escape(), str(float(fps))])
	lines.append("")
	var f := FileAccess.open(path, FileAccess.WRITE)
	if f == null:
		return FileAccess.get_open_error()
	f.store_string("\n".join(lines))
	return OK


## `image` repeated `times` x `times`: a tile's seams show only where it meets copies of itself.
static func repeat_image(image: Image, times: int = 3) -> Image:
	var w := image.get_width()
	var h := image.get_height()
	var out := Image.create(w * times, h * times, false, image.get_format())
	for j in times:
		for i in times:
			out.blit_rect(image, Rect2i(0, 0, w, h), Vector2i(i * w, j * h))
	return out


## The tiles side by side on one RGBA image, `columns` per row, row by row, no margins or gaps: tile `i` is the
## region at `(i % columns, i / columns) * tile_size`, exactly its pixels.
static func tile_atlas(images: Array, tile_size: Vector2i, columns: int = TILESET_COLUMNS) -> Image:
	var cols: int = clampi(columns, 1, max(1, images.size()))
	var rows: int = (images.size() + cols - 1) / cols
	var atlas := Image.create(tile_size.x * cols, tile_size.y * max(1, rows), false, Image.FORMAT_RGBA8)
	for i in images.size():
		var tile: Image = images[i]
		if tile.get_format() != Image.FORMAT_RGBA8:
			tile = tile.duplicate()
			tile.convert(Image.FORMAT_RGBA8)
		atlas.blit_rect(tile, Rect2i(Vector2i.ZERO, tile_size), Vector2i(i % cols, i / cols) * tile_size)
	return atlas


## Saves tiles (Images of `tile_size`) as a TileSet at `tres_path` (a `.tres`) and its atlas next to it (the same name,
## `.png`, with the pixel-art import settings): `TileSet.tile_size` and the atlas source's `texture_region_size` are
## `tile_size`, one tile per image (`create_tile`), in `tile_atlas` order. The atlas source's texture is a
## `CanvasTexture` whose `texture_filter` is Nearest around the PNG, so every TileMapLayer draws these tiles unsmoothed,
## whatever its own or the project's filter (Godot copies that filter into the padded texture it draws from).
## The .tres is written by ResourceSaver before Godot has imported the PNG: the texture carries the PNG's path, so
## the .tres refers to it (`ext_resource`) instead of embedding pixels. Both files are overwritten: pick free names
## first (`free_base`). Returns {"error": Error, "tres", "png", "tiles": int, "columns": int}.
static func save_tile_set(tres_path: String, images: Array, tile_size: Vector2i) -> Dictionary:
	var png_path := tres_path.get_basename() + ".png"
	var out := {"error": OK, "tres": tres_path, "png": png_path, "tiles": images.size(),
		"columns": clampi(TILESET_COLUMNS, 1, max(1, images.size()))}
	var dir_err := DirAccess.make_dir_recursive_absolute(tres_path.get_base_dir())
	if dir_err != OK and not DirAccess.dir_exists_absolute(tres_path.get_base_dir()):
		out["error"] = dir_err
		return out
	var atlas := tile_atlas(images, tile_size, out["columns"])
	var err := atlas.save_png(png_path)
	if err != OK:
		out["error"] = err
		return out
	write_import_settings(png_path)
	var texture := ImageTexture.create_from_image(atlas)
	# saved as a reference to the PNG (imported as a CompressedTexture2D). Taking the path over is safe: the caller
	# picked a name with no file, so whatever the editor may still cache under it is stale.
	texture.take_over_path(png_path)
	var canvas_texture := CanvasTexture.new()
	canvas_texture.diffuse_texture = texture
	canvas_texture.texture_filter = CanvasItem.TEXTURE_FILTER_NEAREST
	var source := TileSetAtlasSource.new()
	source.texture = canvas_texture
	source.texture_region_size = tile_size
	for i in images.size():
		source.create_tile(Vector2i(i % int(out["columns"]), i / int(out["columns"])))
	var tile_set := TileSet.new()
	tile_set.tile_size = tile_size
	tile_set.add_source(source)
	out["error"] = ResourceSaver.save(tile_set, tres_path)
	texture.resource_path = ""  # leave no in-memory texture under the PNG's path: Godot imports the file
	return out


static func save_bytes(path: String, data: PackedByteArray) -> Error:
	DirAccess.make_dir_recursive_absolute(path.get_base_dir())
	var f := FileAccess.open(path, FileAccess.WRITE)
	if f == null:
		return FileAccess.get_open_error()
	f.store_buffer(data)
	return OK


## Godot's ColorPalette resource (the color picker's saved palettes) is in newer Godot 4 versions (4.5's class
## reference has it, 4.3's does not); where it is missing only the .gpl is written.
static func has_color_palette() -> bool:
	return ClassDB.class_exists("ColorPalette")


## Saves `hex_colors` ("#rrggbb") as a ColorPalette resource; ERR_UNAVAILABLE where the engine has no ColorPalette.
static func save_color_palette(path: String, hex_colors: Array) -> Error:
	if not has_color_palette():
		return ERR_UNAVAILABLE
	var colors := PackedColorArray()
	for h in hex_colors:
		colors.append(Color.html(str(h)))
	var res: Resource = ClassDB.instantiate("ColorPalette")
	res.set("colors", colors)
	DirAccess.make_dir_recursive_absolute(path.get_base_dir())
	return ResourceSaver.save(res, path)


## True when every pixel is fully transparent or fully opaque.
static func has_hard_alpha(image: Image) -> bool:
	var img := image
	if img.get_format() != Image.FORMAT_RGBA8:
		img = image.duplicate()
		img.convert(Image.FORMAT_RGBA8)
	var data := img.get_data()
	for i in range(3, data.size(), 4):
		if data[i] != 0 and data[i] != 255:
			return false
	return true
