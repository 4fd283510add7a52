// Swagger UI on analyzer's own OpenAPI document. No validator: it would call out to
// validator.swagger.io, which an air-gapped cluster cannot reach.
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    validatorUrl: null,
    deepLinking: true,
  });
});
