@tool
extends EditorPlugin
## Adds the pixelsprite dock and polls its server connection from the editor's process loop.

const Connection := preload("connection.gd")
const Dock := preload("dock.gd")

var _connection: Connection
var _dock: Control


func _enter_tree() -> void:
	_connection = Connection.new()
	_dock = Dock.new()
	_dock.setup(_connection)
	# Its own slot below the Inspector: in the Inspector's slot (with Signals and Groups) the tab is scrolled out of
	# sight on a 1600-pixel-wide editor (seen in Godot 4.6), and the Inspector stays in view while generating.
	add_control_to_dock(DOCK_SLOT_RIGHT_BL, _dock)
	set_process(true)


func _exit_tree() -> void:
	set_process(false)
	if _dock != null:
		remove_control_from_docks(_dock)
		_dock.queue_free()
		_dock = null
	if _connection != null:
		_connection.close()
		_connection = null


## WebSocketPeer does no work on its own: poll it every editor frame (cheap when idle).
func _process(_delta: float) -> void:
	if _connection != null:
		_connection.poll()
