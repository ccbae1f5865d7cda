// The event emitter the Uploader is built on: on/off/once/emit, plus '*' for every event.
// Contract: listeners run in the order added, with (detail, type) and the emitter as `this`; a
// listener that throws does not stop the others (its error is rethrown asynchronously).

export function Emitter() { this._listeners = {}; }
Emitter.prototype.on = function (type, listener) {
  (this._listeners[type] || (this._listeners[type] = [])).push(listener);
  return this;
};
Emitter.prototype.off = function (type, listener) {
  var list = this._listeners[type];
  if (list) this._listeners[type] = list.filter(function (candidate) { return candidate !== listener; });
  return this;
};
Emitter.prototype.once = function (type, listener) {
  var self = this;
  function wrapper(detail) { self.off(type, wrapper); listener.call(self, detail); }
  return this.on(type, wrapper);
};
Emitter.prototype.emit = function (type, detail) {
  var list = (this._listeners[type] || []).slice().concat(this._listeners['*'] || []);
  for (var i = 0; i < list.length; i++) {
    try {
      list[i].call(this, detail, type);
    } catch (error) {
      // A page's faulty listener must not stall the uploads; report it where developers look.
      setTimeout(function () { throw error; });
    }
  }
};
