extends SceneTree
## In a window (not --headless; Xvfb, Mesa's OpenGL): the TileSet the dock saved (res://tiles_out/ttile.tres) drawn by
## a TileMapLayer at 4x that asks for Linear filtering itself, in a viewport whose default is Linear too, next to the
## control: the same atlas PNG in a TileSet without the CanvasTexture. Saves the window's image as res://render.png and
## the layers' screen rectangles in res://render_report.json; the Python test checks that the saved TileSet's tiles
## are crisp (every tile pixel a 4x4 block of exactly its colour) and that the control's are smoothed.
##
##   godot --path PROJECT --rendering-driver opengl3 --resolution 320x160 -s res://tests/tileset_render.gd

const ZOOM := 4
const TILE := 8


func _initialize() -> void:
	_run.call_deferred()


func layer_for(tile_set: TileSet, at: Vector2) -> TileMapLayer:
	var layer := TileMapLayer.new()
	layer.tile_set = tile_set
	layer.texture_filter = CanvasItem.TEXTURE_FILTER_LINEAR  # the node itself asks for smoothing
	layer.scale = Vector2(ZOOM, ZOOM)
	layer.position = at
	for y in 3:
		for x in 3:
			layer.set_cell(Vector2i(x, y), tile_set.get_source_id(0), Vector2i((x + 3 * y) % 5, 0))
	root.add_child(layer)
	return layer


func _run() -> void:
	RenderingServer.set_default_clear_color(Color.BLACK)
	root.canvas_item_default_texture_filter = Viewport.DEFAULT_CANVAS_ITEM_TEXTURE_FILTER_LINEAR
	var saved: TileSet = load("res://tiles_out/ttile.tres")
	var atlas: TileSetAtlasSource = saved.get_source(saved.get_source_id(0))
	# the control: the same PNG straight in an atlas source (no CanvasTexture), as a TileSet made by hand would be
	var plain_source := TileSetAtlasSource.new()
	plain_source.texture = (atlas.texture as CanvasTexture).diffuse_texture
	plain_source.texture_region_size = Vector2i(TILE, TILE)
	for k in 5:
		plain_source.create_tile(Vector2i(k, 0))
	var plain := TileSet.new()
	plain.tile_size = Vector2i(TILE, TILE)
	plain.add_source(plain_source)
	var side := 3 * TILE * ZOOM
	layer_for(saved, Vector2(8, 8))
	layer_for(plain, Vector2(16 + side, 8))
	for i in 4:
		await RenderingServer.frame_post_draw
	root.get_texture().get_image().save_png("res://render.png")
	var report := {"saved": [8, 8, side, side], "plain": [16 + side, 8, side, side], "zoom": ZOOM,
		"cells": "tile (x + 3y) % 5 at cell (x, y)", "renderer": RenderingServer.get_current_rendering_method()}
	var f := FileAccess.open("res://render_report.json", FileAccess.WRITE)
	f.store_string(JSON.stringify(report))
	f.close()
	print("tileset_render: done")
	quit(0)
