extends SceneTree
## After client_test.gd saved files into res://generated and `godot --import` re-imported the project: the saved
## PNGs load as textures of the right size whose pixels are exactly the PNG's (hard alpha kept through the import),
## the SpriteFrames resource plays the saved frames, and the ColorPalette resource holds the palette.
##
##   godot --headless --path PROJECT -s res://tests/import_check.gd
##
## Writes res://import_report.json; exit status 0 when every check passed.

const SpriteFiles := preload("res://addons/pixelsprite/sprite_files.gd")

var report := {"checks": [], "failures": []}


func check(ok: bool, what: String) -> void:
	report["checks"].append(what)
	if not ok:
		report["failures"].append(what)
		printerr("FAILED: " + what)


func _initialize() -> void:
	var client: Dictionary = JSON.parse_string(FileAccess.get_file_as_string("res://report.json"))
	var textures := 0
	for p in client["generated"] + client["frames"]:
		var tex := load(p) as Texture2D
		check(tex != null, p + " loads as an imported Texture2D")
		if tex == null:
			continue
		textures += 1
		var imported := tex.get_image()
		imported.convert(Image.FORMAT_RGBA8)
		var source := Image.load_from_file(ProjectSettings.globalize_path(p))
		check(tex.get_size() == Vector2(16, 16), "%s is 16x16 (%s)" % [p, str(tex.get_size())])
		check(SpriteFiles.has_hard_alpha(imported), p + ": imported alpha is 0 or 255")
		check(imported.get_data() == source.get_data(), p + ": imported pixels equal the saved PNG's")
	report["textures"] = textures
	var cfg := ConfigFile.new()
	check(cfg.load(client["generated"][0] + ".import") == OK, "the .import file is readable")
	check(cfg.get_value("params", "process/fix_alpha_border", true) == false, "import keeps transparent pixels")
	check(cfg.get_value("params", "compress/mode", -1) == 0, "import is lossless")
	var frames := load("res://generated/walk.tres") as SpriteFrames
	check(frames != null, "walk.tres loads as SpriteFrames")
	if frames != null:
		check(frames.get_frame_count("default") == client["frames"].size(), "SpriteFrames has every frame")
		check(frames.get_animation_speed("default") == 10.0, "SpriteFrames speed 10 fps")
		var first := frames.get_frame_texture("default", 0)
		check(first != null and first.resource_path == client["frames"][0], "frame 0 is the first saved frame")
	if client["has_color_palette"]:
		var palette: Resource = load("res://generated/demo-palette.tres")
		check(palette != null and palette.get_class() == "ColorPalette", "demo-palette.tres is a ColorPalette")
		if palette != null:
			var colors: PackedColorArray = palette.get("colors")
			check(colors.size() == client["palette_colors"].size(), "ColorPalette has every colour")
			check(colors.size() > 0 and "#" + colors[0].to_html(false) == client["palette_colors"][0],
				"ColorPalette colour 0 is %s" % client["palette_colors"][0])
	var f := FileAccess.open("res://import_report.json", FileAccess.WRITE)
	f.store_string(JSON.stringify(report, "  "))
	f.close()
	print("import_check: %d checks, %d failures" % [report["checks"].size(), report["failures"].size()])
	quit(1 if not report["failures"].is_empty() else 0)
