// kit.js is what the pages' scripts share: finding elements by their
// data-testid, cloning rows from the page's <template> elements, writing
// times and sizes as people read them, and following an event stream over a
// WebSocket that survives a dropped connection. It defines
// window.layerlabKit and nothing else; the page scripts load after it.
(function () {
	'use strict';

	// A dropped socket is retried with growing pauses; after this many
	// failures in a row the stream gives up.
	const RETRY_FIRST_MS = 300;
	const RETRY_MAX_MS = 5000;
	const RETRY_LIMIT = 8;

	const byTestId = (id, root) => (root || document).querySelector(`[data-testid="${id}"]`);
	const allByTestId = (id, root) =>
		Array.from((root || document).querySelectorAll(`[data-testid="${id}"]`));
	const fromTemplate = (id) =>
		document.getElementById(id).content.firstElementChild.cloneNode(true);

	function formatMs(ms) {
		if (ms < 1000) {
			return `${Math.round(ms)} ms`;
		}
		if (ms < 60000) {
			return `${(ms / 1000).toFixed(1)} s`;
		}
		const s = Math.round(ms / 1000);
		return `${Math.floor(s / 60)} min ${s % 60} s`;
	}

	function formatLines(range) {
		if (range.start === range.end) {
			return `line ${range.start}`;
		}
		return `lines ${range.start}–${range.end}`;
	}

	// formatBytes writes a byte count as the server's messages do (1.5 MiB,
	// 512 B): binary units, one decimal rounded half to even, no trailing .0.
	// The arithmetic is exact: sizes stay far below 2^53 / 10.
	function formatBytes(n) {
		if (n < 1024) {
			return `${n} B`;
		}
		let div = 1024;
		let exp = 0;
		for (let m = Math.floor(n / 1024); m >= 1024; m = Math.floor(m / 1024)) {
			div *= 1024;
			exp++;
		}
		let tenths = Math.floor((n * 10) / div);
		const rest = n * 10 - tenths * div;
		if (rest * 2 > div || (rest * 2 === div && tenths % 2 === 1)) {
			tenths++;
		}
		const whole = Math.floor(tenths / 10);
		const text = tenths % 10 === 0 ? String(whole) : `${whole}.${tenths % 10}`;
		return `${text} ${'KMGTPE'[exp]}iB`;
	}

	function exactBytes(n) {
		return `${n.toLocaleString('en-US')} bytes`;
	}

	// showBytes writes a size into el, the exact count in its title and in
	// data-bytes; with compressed, the title gives that figure too.
	function showBytes(el, n, compressed) {
		el.textContent = formatBytes(n);
		el.dataset.bytes = String(n);
		el.title = compressed === undefined ? exactBytes(n) :
			`${exactBytes(n)} uncompressed\n` +
			`${formatBytes(compressed)} compressed (${exactBytes(compressed)})`;
	}

	function clearBytes(el) {
		el.textContent = '';
		el.removeAttribute('title');
		delete el.dataset.bytes;
	}

	// follow reads the events of a build or a run from the WebSocket at path
	// and hands each to on.event, once and in order. When the socket drops
	// before the server closed it normally, which it does once the stream
	// has ended, it connects again asking only for the events after the last
	// one it took. The callbacks:
	//
	//	on.event(ev)        every event, once
	//	on.ended()          the server sent the whole stream
	//	on.retrying()       the socket dropped; a new one follows shortly
	//	on.connected()      a socket opened
	//	on.gaveUp(result)   too many failures in a row; result tells whether
	//	                    the stream's result had arrived before
	//
	// The returned stream counts what it received, for the browser tests;
	// stop() ends it without a callback.
	function follow(path, on) {
		const s = {
			lastSeq: 0,
			events: 0, // events handed on
			repeats: 0, // events dropped as already seen
			connects: 0, // sockets opened
			socket: null,
			result: false, // the result arrived; more may follow
			done: false, // no more events will come: the stream ended, or it gave up
			stopped: false, // the page stopped following
			failures: 0, // connections lost in a row
			timer: 0,
		};
		s.stop = () => {
			s.stopped = true;
			clearTimeout(s.timer);
			if (s.socket) {
				s.socket.close(1000);
			}
		};
		// drop closes the socket as a network failure would.
		s.drop = () => {
			if (s.socket) {
				s.socket.close(4000, 'dropped on purpose');
			}
		};
		connect(s, path, on);
		return s;
	}

	function connect(s, path, on) {
		const url = new URL(path, window.location.href);
		url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
		if (s.lastSeq > 0) {
			url.searchParams.set('after', String(s.lastSeq));
		}
		const ws = new WebSocket(url);
		s.socket = ws;
		s.connects++;
		ws.addEventListener('open', () => {
			s.failures = 0;
			on.connected?.();
		});
		ws.addEventListener('message', (m) => {
			if (s.stopped) {
				return;
			}
			const ev = JSON.parse(m.data);
			if (ev.seq <= s.lastSeq) {
				s.repeats++;
				return;
			}
			s.lastSeq = ev.seq;
			s.events++;
			if (ev.type === 'result') {
				s.result = true;
			}
			on.event(ev);
		});
		ws.addEventListener('close', (ev) => {
			if (s.stopped || s.socket !== ws) {
				return;
			}
			if (ev.code === 1000 && s.result) {
				s.done = true;
				on.ended?.();
				return;
			}
			s.failures++;
			if (s.failures > RETRY_LIMIT) {
				s.done = true;
				on.gaveUp?.(s.result);
				return;
			}
			const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (s.failures - 1));
			on.retrying?.();
			s.timer = setTimeout(() => connect(s, path, on), delay);
		});
	}

	window.layerlabKit = Object.freeze({
		byTestId,
		allByTestId,
		fromTemplate,
		formatMs,
		formatLines,
		formatBytes,
		exactBytes,
		showBytes,
		clearBytes,
		follow,
	});
})();
