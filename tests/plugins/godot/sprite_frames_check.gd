extends SceneTree
## Loads the SpriteFrames that `pixelsprite interpolate ... -o res://cli_frames/walk.tres` wrote (AtlasTexture regions
## of a sheet PNG next to it, referred to by a relative path) and reports what Godot sees: the animation's frame count,
## speed and loop, each frame's region and atlas path, and each frame's pixels saved as PNG for the test to compare.
##
##   godot --headless --path PROJECT -s res://tests/sprite_frames_check.gd

func _initialize() -> void:
	var report := {"failures": []}
	var frames = load("res://cli_frames/walk.tres")
	if not (frames is SpriteFrames):
		report["failures"].append("res://cli_frames/walk.tres is not a SpriteFrames: %s" % str(frames))
	else:
		var anim := &"default"
		report["animations"] = Array(frames.get_animation_names())
		report["count"] = frames.get_frame_count(anim)
		report["speed"] = frames.get_animation_speed(anim)
		report["loop"] = frames.get_animation_loop(anim)
		var regions := []
		for i in frames.get_frame_count(anim):
			var tex: AtlasTexture = frames.get_frame_texture(anim, i)
			regions.append([int(tex.region.position.x), int(tex.region.position.y), int(tex.region.size.x),
				int(tex.region.size.y), tex.atlas.resource_path])
			var img := tex.get_image()
			img.convert(Image.FORMAT_RGBA8)
			img.save_png("res://cli_frames/frame-%d.png" % i)
		report["regions"] = regions
	FileAccess.open("res://sprite_frames_report.json", FileAccess.WRITE).store_string(JSON.stringify(report))
	quit(0 if report["failures"].is_empty() else 1)
