// The device pages' script: the status page renders /api/status and posts confirm/rollback; the
// update page says when an update cannot start and what the widget reports. Text from the server
// only ever goes into textContent.
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var mib = function (bytes) { return (bytes / 1048576).toFixed(bytes < 10485760 ? 2 : 1) + ' MiB'; };
  var STATES = {
    running: 'running', empty: 'empty', receiving: 'receiving an image',
    pending: 'pending: verified, waiting for confirmation', inactive: 'previous image'
  };

  function say(element, text, isError) {
    element.textContent = text;
    element.classList.toggle('error', Boolean(isError));
  }

  function errorText(body, status) {
    if (body && body.error && body.error.message) return body.error.message + ' (' + body.error.code + ')';
    return 'The device answered ' + status + '.';
  }

  function getStatus() {
    return fetch('/api/status', { cache: 'no-store' }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(errorText(body, response.status));
        return body;
      });
    });
  }

  function post(path) {
    // The custom header keeps other sites' forms out: a cross-origin page cannot send it without a
    // preflight, which the device does not grant.
    return fetch(path, { method: 'POST', headers: { 'X-Device-UI': '1' } }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(errorText(body, response.status));
        return body;
      });
    });
  }

  function cell(row, text, className) {
    var td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
  }

  function renderStatus(status) {
    $('running-version').textContent = status.running.version;
    $('running-slot').textContent = status.running.slot.toUpperCase();
    var body = $('slots');
    body.replaceChildren();
    status.slots.forEach(function (slot) {
      var row = document.createElement('tr');
      var th = document.createElement('th');
      th.scope = 'row';
      th.textContent = slot.name.toUpperCase();
      row.appendChild(th);
      var state = STATES[slot.state] || slot.state;
      if (slot.state === 'receiving' && slot.received !== undefined) state += ' (' + mib(slot.received) + ' so far)';
      cell(row, state);
      cell(row, slot.image ? slot.image.digest.slice(0, 16) + '…' : '–', 'digest');
      cell(row, slot.image ? mib(slot.image.size) : mib(slot.capacity) + ' free');
      row.dataset.slot = slot.name;
      row.dataset.state = slot.state;
      body.appendChild(row);
    });
    var pending = status.pending;
    $('pending-section').hidden = !pending;
    if (pending) {
      $('pending-text').textContent = 'Slot ' + pending.slot.toUpperCase() + ' holds a verified, signed image of ' +
        mib(pending.size) + ' (digest ' + pending.digest + '). It boots once you confirm it.';
    }
  }

  function statusPage() {
    var message = $('message');
    var refresh = function () {
      return getStatus().then(renderStatus, function (error) { say(message, error.message, true); });
    };
    var act = function (path, done) {
      return function () {
        // The page announces the result only once it shows the new state, so what a screen reader
        // hears and what the table says never disagree.
        post(path).then(function () {
          return getStatus().then(function (status) { renderStatus(status); say(message, done); },
            function (error) { say(message, done + ' The status could not be refreshed: ' + error.message, true); });
        }, function (error) { say(message, error.message, true); });
      };
    };
    $('confirm').addEventListener('click', act('/api/confirm', 'Confirmed: the new image is now the running one.'));
    $('rollback').addEventListener('click', act('/api/rollback', 'Rolled back: the pending image was discarded.'));
    refresh();
  }

  function updatePage() {
    var input = $('image');
    var outcome = $('outcome');
    getStatus().then(function (status) {
      if (!status.pending) return;
      var blocked = $('update-blocked');
      blocked.textContent = 'An update is pending in slot ' + status.pending.slot.toUpperCase() +
        ': confirm or roll it back on the status page before sending another.';
      blocked.hidden = false;
    }, function () {});
    input.addEventListener('file-success', function (event) {
      var result = event.detail && event.detail.result;
      say(outcome, 'Verified and written: the image is pending' +
        (result && result.fileDigest ? ' (digest ' + result.fileDigest + ')' : '') + '. Confirm it on the status page.');
    });
    input.addEventListener('file-error', function (event) {
      var error = event.detail && event.detail.error;
      say(outcome, 'Not accepted: ' + (error && error.message ? error.message : 'the upload failed') +
        (error && error.code ? ' (' + error.code + ')' : ''), true);
    });
  }

  if ($('slots')) statusPage();
  if ($('image')) updatePage();
})();
