// Gives every upload widget on the demo's pages the session's CSRF token as a request header
// (X-CSRF-Token), which both upload endpoints require. This script runs at the end of the body,
// before the widget's own automatic set-up (that waits for DOMContentLoaded), so each input is
// enhanced exactly once, with the header.
(function () {
  'use strict';
  var meta = document.querySelector('meta[name="csrf-token"]');
  var token = meta ? meta.getAttribute('content') : '';
  var inputs = document.querySelectorAll('input[type="file"][data-resumable]');
  Array.prototype.forEach.call(inputs, function (input) {
    window.ResumableWidget.enhance(input, { headers: { 'X-CSRF-Token': token } });
  });
})();
