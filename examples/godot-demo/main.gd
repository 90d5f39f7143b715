extends Node2D
## Shows every sprite in res://sprites/ as a grid, 4x and crisp (the project's default texture filter is Nearest),
## and plays res://sprites/walk.tres (interpolation frames as a SpriteFrames resource) with an AnimatedSprite2D.
## Save new sprites from the pixelsprite dock into res://sprites and run the scene again.

const FOLDER := "res://sprites"
const SCALE := 4
const COLUMNS := 8


func _ready() -> void:
	var files := PackedStringArray()
	for f in DirAccess.get_files_at(FOLDER):
		# exported games list "x.png.import"/"x.png.remap" instead of x.png
		var name := f.trim_suffix(".import").trim_suffix(".remap")
		if name.get_extension() == "png" and not files.has(name):
			files.append(name)
	files.sort()
	var i := 0
	for f in files:
		var texture := load(FOLDER.path_join(f)) as Texture2D
		if texture == null:
			continue
		var sprite := Sprite2D.new()
		sprite.texture = texture
		sprite.centered = false
		sprite.scale = Vector2(SCALE, SCALE)
		sprite.position = Vector2(16 + (i % COLUMNS) * 72, 16 + (i / COLUMNS) * 72)
		add_child(sprite)
		i += 1
	if ResourceLoader.exists(FOLDER.path_join("walk.tres")):
		var anim := AnimatedSprite2D.new()
		anim.sprite_frames = load(FOLDER.path_join("walk.tres"))
		anim.scale = Vector2(SCALE * 2, SCALE * 2)
		anim.position = Vector2(560, 280)
		add_child(anim)
		anim.play()
	print("pixelsprite demo: %d sprites" % i)
