"""pixelsprite bridge: transports (websocket server, watch folder) over pixelsprite.api.

Never imports torch.
"""
