@tool
extends RefCounted
## One websocket connection to a pixelsprite server: connects (with the receive buffer raised first), says `hello`
## and checks the protocol version, sends requests and routes each answer to its request's callback, reconnects
## with back-off after a drop. Nothing here blocks: call poll() from a process loop (the EditorPlugin's _process).

const Protocol := preload("protocol.gd")

enum State { DISCONNECTED, CONNECTING, HANDSHAKE, READY, RETRY_WAIT }

## state, and a sentence for the dock's status line.
signal state_changed(state: int, text: String)
## the server's `hello` answer, after the version check passed.
signal server_ready(hello: Dictionary)

var url := Protocol.DEFAULT_URL
## Optional `--token` of the server, sent as `Authorization: Bearer`.
var token := ""
## Reconnect after the connection dropped or could not be opened (1, 2, 4, 8, then every 10 s).
var auto_reconnect := true
var hello_answer := {}
var state: int = State.DISCONNECTED
var status_text := "Not connected: run `pixelsprite serve` in a terminal, then press Connect."
## Size in bytes of the largest text frame received so far (diagnostics; tests check big answers arrive whole).
var largest_frame_bytes := 0

var _ws: WebSocketPeer
var _next_id := 0
var _callbacks := {}  # request id -> Callable(answer: Dictionary), called for progress, result and error
var _retry_delay := 1.0
var _retry_at_ms := 0
var _hello_id := ""
var _fatal := false  # a version mismatch: do not retry


func is_ready() -> bool:
	return state == State.READY


## Opens the connection (closing any open one). Answers arrive through poll().
func open(new_url: String = "") -> Error:
	if new_url != "":
		url = new_url
	_drop("", false)
	_fatal = false
	_retry_delay = 1.0
	return _start()


## Closes the connection for good (no reconnect); requests in flight are answered with a local `disconnected` error.
func close() -> void:
	_drop("Disconnected.", false)
	_set_state(State.DISCONNECTED, "Not connected.")


## Sends `msg` (an `id` is assigned if it has none or "") and calls `on_answer` with each answer to it: `progress`
## messages, then one `result` or `error`. Returns the id, or "" if the connection is not ready (on_answer then gets
## an error at once).
func request(msg: Dictionary, on_answer: Callable = Callable()) -> String:
	if str(msg.get("id", "")) == "":
		_next_id += 1
		msg["id"] = "gd%d" % _next_id
	var id := str(msg["id"])
	if state != State.READY and msg.get("op") != "hello":
		_answer_locally(on_answer, id, "Not connected to the server.")
		return ""
	var err := _ws.send_text(Protocol.encode(msg))
	if err != OK:
		_answer_locally(on_answer, id, "Could not send the request (%s); it may be too large." % error_string(err))
		return ""
	if on_answer.is_valid():
		_callbacks[id] = on_answer
	return id


## Asks the server to cancel request `target`; its own answer arrives as a `cancelled` error.
func cancel(target: String) -> void:
	if state == State.READY and target != "":
		request(Protocol.cancel("cancel-" + target, target))


func pending_count() -> int:
	return _callbacks.size()


## Call often (every frame): moves frames in and out, dispatches answers, notices drops and schedules reconnects.
func poll() -> void:
	if state == State.RETRY_WAIT:
		if Time.get_ticks_msec() >= _retry_at_ms:
			_start()
		return
	if _ws == null:
		return
	_ws.poll()
	var ws_state := _ws.get_ready_state()
	if ws_state == WebSocketPeer.STATE_OPEN:
		if state == State.CONNECTING:
			_set_state(State.HANDSHAKE, "Connected; checking the server's version...")
			_next_id += 1
			_hello_id = "hello%d" % _next_id
			request(Protocol.hello(_hello_id), _on_hello)
		while _ws != null and _ws.get_available_packet_count() > 0:
			var packet := _ws.get_packet()
			if not _ws.was_string_packet():
				continue  # the server answers JSON with JSON; binary frames are msgpack and not ours
			largest_frame_bytes = max(largest_frame_bytes, packet.size())
			_dispatch(Protocol.decode(packet.get_string_from_utf8()))
	elif ws_state == WebSocketPeer.STATE_CLOSED:
		var was := state
		var text := Protocol.close_text(_ws.get_close_code(), _ws.get_close_reason())
		if was == State.CONNECTING:
			text = Protocol.close_text(-1, "")
		_drop(text, true)


func _start() -> Error:
	_ws = WebSocketPeer.new()
	# Must be set before connecting: a message over the inbound buffer closes the socket with 1009.
	_ws.inbound_buffer_size = Protocol.INBOUND_BUFFER_BYTES
	_ws.outbound_buffer_size = Protocol.OUTBOUND_BUFFER_BYTES
	_ws.max_queued_packets = Protocol.MAX_QUEUED_PACKETS
	if token != "":
		_ws.handshake_headers = PackedStringArray(["Authorization: Bearer " + token])
	var err := _ws.connect_to_url(url)
	if err != OK:
		_ws = null
		_schedule_retry("Cannot connect to %s (%s)." % [url, error_string(err)])
		return err
	_set_state(State.CONNECTING, "Connecting to %s..." % url)
	return OK


func _on_hello(answer: Dictionary) -> void:
	if answer.get("type") == "error":
		_fatal = true
		_drop(Protocol.error_text(answer), false)
		_set_state(State.DISCONNECTED, "The server refused hello: " + Protocol.error_text(answer))
		return
	var problem := Protocol.check_hello(answer)
	if problem != "":
		_fatal = true
		_drop(problem, false)
		_set_state(State.DISCONNECTED, problem)
		return
	hello_answer = answer
	_retry_delay = 1.0
	_set_state(State.READY, "Connected to pixelsprite %s at %s." % [str(answer.get("version", "?")), url])
	server_ready.emit(answer)


func _dispatch(msg: Dictionary) -> void:
	if msg.is_empty():
		return
	var id = msg.get("id")
	if id == null:
		push_warning("pixelsprite: " + Protocol.error_text(msg))
		return
	var cb: Callable = _callbacks.get(str(id), Callable())
	var kind := str(msg.get("type", ""))
	if kind == "result" or kind == "error":
		_callbacks.erase(str(id))
	if cb.is_valid():
		cb.call(msg)


## Forgets the socket; requests in flight get a local error; with `retry`, schedules a reconnect.
func _drop(text: String, retry: bool) -> void:
	if _ws != null and _ws.get_ready_state() != WebSocketPeer.STATE_CLOSED:
		_ws.close(1000, "client closing")
	_ws = null
	var callbacks := _callbacks
	_callbacks = {}
	for id in callbacks:
		_answer_locally(callbacks[id], str(id), text if text != "" else "The connection closed.")
	if retry:
		_schedule_retry(text)


func _schedule_retry(text: String) -> void:
	if not auto_reconnect or _fatal:
		_set_state(State.DISCONNECTED, text)
		return
	_retry_at_ms = Time.get_ticks_msec() + int(_retry_delay * 1000.0)
	_set_state(State.RETRY_WAIT, "%s Retrying in %d s." % [text, int(_retry_delay)])
	_retry_delay = min(_retry_delay * 2.0, 10.0)


func _answer_locally(cb: Callable, id: String, text: String) -> void:
	if cb.is_valid():
		cb.call({"id": id, "type": "error", "code": "disconnected", "message": text, "field": null})


func _set_state(new_state: int, text: String) -> void:
	state = new_state
	status_text = text
	state_changed.emit(new_state, text)
