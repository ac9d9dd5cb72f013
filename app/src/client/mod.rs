//! A Socket.IO v5 client over Engine.IO v4 WebSockets, for the browser. (Under construction.)
