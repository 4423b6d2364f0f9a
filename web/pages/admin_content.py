"""Admin pages for what the office maintains: 知识库 (/admin/kb), 网格 (/admin/grid), 值班表
(/admin/roster), 分类规则 (/admin/classifier-rules), 重复规则 (/admin/repeat-rules) and 系统设置
(/admin/settings)."""
